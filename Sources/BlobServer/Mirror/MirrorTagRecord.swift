import BlobStore

/// What a mirrored tag resolved to at the upstream, and when that was last confirmed
/// (wall-clock seconds, so freshness survives a restart). Stored as a small JSON object.
struct MirrorTagRecord: Equatable {
    var digest: Digest
    var mediaType: String
    var size: UInt64
    /// When the upstream last confirmed the tag (seconds since the epoch).
    var checked: UInt64

    static let maxEncodedBytes = 4096

    init(digest: Digest, mediaType: String, size: UInt64, checked: UInt64) {
        self.digest = digest
        self.mediaType = mediaType
        self.size = size
        self.checked = checked
    }

    /// Reads a stored record; nil when it is damaged (then the tag counts as never fetched).
    init?(decoding bytes: [UInt8]) {
        guard let value = try? JSONParser.parse(bytes),
              let digestText = value["digest"]?.stringValue, let digest = try? Digest(parsing: digestText),
              let mediaType = value["mediaType"]?.stringValue, MediaType.isValid(mediaType),
              case .number(let sizeText)? = value["size"], let size = UInt64(sizeText),
              case .number(let checkedText)? = value["checked"], let checked = UInt64(checkedText)
        else { return nil }
        self.init(digest: digest, mediaType: mediaType, size: size, checked: checked)
    }

    var encoded: [UInt8] {
        let text = #"{"digest":""# + digest.description + #"","mediaType":"# + JSONText.quoted(mediaType)
            + #","size":\#(size),"checked":\#(checked)}"# + "\n"
        return Array(text.utf8)
    }
}
