import BlobStore

/// What the registry remembers about a manifest pushed to a repository, beside its bytes in
/// the store: the media type to serve it with, and the subject it refers to (so deleting it can
/// drop its referrer entry). Stored as a small JSON object.
struct ManifestRecord: Equatable {
    var mediaType: String
    var subject: Digest?

    static let maxEncodedBytes = 4096

    init(mediaType: String, subject: Digest?) {
        self.mediaType = mediaType
        self.subject = subject
    }

    /// Reads a stored record; nil when it is damaged (then the manifest counts as unknown).
    init?(decoding bytes: [UInt8]) {
        guard let value = try? JSONParser.parse(bytes), let mediaType = value["mediaType"]?.stringValue,
              MediaType.isValid(mediaType)
        else { return nil }
        self.mediaType = mediaType
        if let text = value["subject"]?.stringValue {
            guard let subject = try? Digest(parsing: text) else { return nil }
            self.subject = subject
        }
    }

    var encoded: [UInt8] {
        var text = #"{"mediaType":"# + JSONText.quoted(mediaType)
        if let subject { text += #","subject":""# + subject.description + #"""# }
        return Array((text + "}\n").utf8)
    }
}
