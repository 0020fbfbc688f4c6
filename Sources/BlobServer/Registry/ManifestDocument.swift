import BlobStore

/// What the registry takes from a pushed manifest: its media type, what it refers to
/// (`subject`), and what the referrers API lists about it. The bytes themselves are stored
/// untouched; this only reads them.
///
/// Parsing is bounded: at most `maxBytes` and `maxValues` JSON values, so a hostile manifest
/// costs a few megabytes and linear time.
struct ManifestDocument {
    /// The spec asks registries to take manifests of at least 4 MiB; larger ones get 413.
    static let maxBytes = 4 << 20
    static let limits = JSONParser.Limits(maxBytes: maxBytes, maxValues: 100_000)

    /// The `mediaType` field.
    var mediaType: String?
    /// `artifactType`, or for an image manifest without one, its config's media type (what the
    /// referrers API reports).
    var artifactType: String?
    /// The manifest this one refers to.
    var subject: Digest?
    /// The `annotations` object, copied into referrer descriptors.
    var annotations: JSONValue?

    /// Reads `bytes`; throws MANIFEST_INVALID saying what is wrong.
    init(parsing bytes: [UInt8]) throws(OCIError) {
        let root: JSONValue
        do { root = try JSONParser.parse(bytes, limits: Self.limits) } catch {
            throw OCIError(.manifestInvalid, detail: "not valid JSON: \(error)")
        }
        guard case .object = root else { throw OCIError(.manifestInvalid, detail: "a manifest is a JSON object") }
        mediaType = try Self.mediaType(root["mediaType"], field: "mediaType")
        artifactType = try Self.mediaType(root["artifactType"], field: "artifactType")
        if artifactType == nil, let config = root["config"] {
            artifactType = try Self.mediaType(config["mediaType"], field: "config.mediaType")
        }
        if let subject = root["subject"] {
            guard let text = subject["digest"]?.stringValue, let digest = try? Digest(parsing: text) else {
                throw OCIError(.manifestInvalid, detail: "subject needs a valid digest")
            }
            self.subject = digest
        }
        if let annotations = root["annotations"] {
            guard case .object(let members) = annotations, members.allSatisfy({ $0.value.stringValue != nil }) else {
                throw OCIError(.manifestInvalid, detail: "annotations must map strings to strings")
            }
            self.annotations = annotations
        }
    }

    private static func mediaType(_ value: JSONValue?, field: String) throws(OCIError) -> String? {
        guard let value else { return nil }
        guard let text = value.stringValue, MediaType.isValid(text) else {
            throw OCIError(.manifestInvalid, detail: "\(field) must be a media type such as application/vnd.oci.image.manifest.v1+json")
        }
        return text
    }

    /// The descriptor the referrers API lists for this manifest, as JSON text.
    func referrerDescriptor(digest: Digest, size: UInt64, mediaType: String) -> String {
        var text = #"{"mediaType":"# + JSONText.quoted(mediaType)
        text += #","digest":""# + digest.description + #"","size":"# + String(size)
        if let artifactType { text += #","artifactType":"# + JSONText.quoted(artifactType) }
        if let annotations {
            text += #","annotations":"#
            JSONText.append(annotations, to: &text)
        }
        return text + "}"
    }
}
