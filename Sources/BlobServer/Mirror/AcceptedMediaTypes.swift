/// A request's `Accept` field, as far as manifests need it: which media types the client takes.
/// Parameters (`q=`) are ignored except `q=0`, which excludes. No field means anything goes
/// (RFC 9110 §12.5.1). A pure value.
struct AcceptedMediaTypes: Sendable, Equatable {
    /// The media ranges, lowercased; nil when the request had no `Accept`.
    let ranges: [String]?

    /// What the mirror asks an upstream for when it fetches a tag for the cache: every manifest
    /// kind, indexes first, so the cached tag is what a full client would get.
    static let everyManifest = [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]

    /// `everyManifest` as one `Accept` field value.
    static let everyManifestField = everyManifest.joined(separator: ", ")

    init(field: String?) {
        guard let field else {
            ranges = nil
            return
        }
        var ranges: [String] = []
        for element in field.split(separator: ",") {
            let parts = element.split(separator: ";")
            guard let first = parts.first else { continue }
            let excluded = parts.dropFirst().contains { parameter in
                let trimmed = parameter.filter { $0 != " " && $0 != "\t" }.lowercased()
                return trimmed == "q=0" || trimmed == "q=0.0" || trimmed == "q=0.00" || trimmed == "q=0.000"
            }
            let range = first.filter { $0 != " " && $0 != "\t" }.lowercased()
            if !excluded, !range.isEmpty { ranges.append(range) }
        }
        self.ranges = ranges
    }

    /// Whether the client takes `mediaType`.
    func admits(_ mediaType: String) -> Bool {
        guard let ranges else { return true }
        let type = mediaType.lowercased()
        let major = type.prefix { $0 != "/" }
        return ranges.contains { range in
            range == type || range == "*/*" || (range.hasSuffix("/*") && range.dropLast(2) == major)
        }
    }

    /// The field to forward upstream: the client's own, or every manifest kind.
    var forwarded: String {
        guard let ranges, !ranges.isEmpty else { return Self.everyManifestField }
        return ranges.joined(separator: ", ")
    }
}
