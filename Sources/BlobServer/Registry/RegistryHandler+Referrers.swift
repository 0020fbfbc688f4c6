import BlobStore

/// `GET /v2/<name>/referrers/<digest>[?artifactType=]`: an OCI image index of the manifests in
/// the repository whose `subject` is the digest (never 404: no referrers is an empty index).
/// Pages are bounded in entries and bytes; when more follow, `Link` names the next page
/// (`last=` is our cursor). Referrers whose manifest the store evicted are left out.
extension RegistryHandler {
    static let maxReferrersPerPage = 256
    static let maxReferrersPageBytes = 1 << 20
    static let imageIndexMediaType = "application/vnd.oci.image.index.v1+json"

    func listReferrers(of subject: Digest, in repository: RepositoryName, _ query: QueryParameters) -> HandlerAction {
        let artifactType = query["artifactType"].flatMap { $0.isEmpty ? nil : $0 }
        let after: Digest?
        if let text = query["last"] {
            guard let digest = try? Digest(parsing: text) else {
                return .respond(.oci(.digestInvalid, detail: "last must be a digest"))
            }
            after = digest
        } else {
            after = nil
        }
        let namespace = query["ns"]
        return .blocking { [self] in
            let page: (descriptors: [[UInt8]], next: Digest?)
            do throws(SystemError) { page = try referrersPage(of: subject, in: repository, after: after, artifactType: artifactType) } catch {
                return .respond(.serverFailure(detail: error.description))
            }
            var body = Array(#"{"schemaVersion":2,"mediaType":"\#(Self.imageIndexMediaType)","manifests":["#.utf8)
            for (index, descriptor) in page.descriptors.enumerated() {
                if index > 0 { body.append(UInt8(ascii: ",")) }
                body += descriptor
            }
            body += Array("]}".utf8)
            var headers: [(name: String, value: String)] = []
            if artifactType != nil { headers.append(("OCI-Filters-Applied", "artifactType")) }
            if let next = page.next {
                var link = "/v2/\(repository)/referrers/\(subject)?last=\(next)"
                if let artifactType { link += "&artifactType=" + Self.percentEncoded(artifactType) }
                if let namespace { link += "&ns=\(namespace)" }
                headers.append(("Link", "<\(link)>; rel=\"next\""))
            }
            return .respond(Response(status: 200, headers: headers, body: .bytes(body, contentType: Self.imageIndexMediaType)))
        }
    }

    /// The descriptors of one page, and the cursor of the next page when more follow.
    private func referrersPage(
        of subject: Digest, in repository: RepositoryName, after: Digest?, artifactType: String?
    ) throws(SystemError) -> (descriptors: [[UInt8]], next: Digest?) {
        var descriptors: [[UInt8]] = []
        var bytes = 0
        var cursor = after
        while true {
            let batch = try metadata.referrers(of: subject, in: repository, after: cursor, limit: Self.maxReferrersPerPage)
            for referrer in batch.digests {
                guard store.contains(referrer),
                      let descriptor = try metadata.referrerDescriptor(referrer, subject: subject, in: repository),
                      artifactType == nil || Self.artifactType(of: descriptor) == artifactType
                else { continue }
                if descriptors.count == Self.maxReferrersPerPage || (bytes + descriptor.count > Self.maxReferrersPageBytes && !descriptors.isEmpty) {
                    return (descriptors, cursor)
                }
                descriptors.append(descriptor)
                bytes += descriptor.count
                cursor = referrer
            }
            guard batch.hasMore, let last = batch.digests.last else { return (descriptors, nil) }
            cursor = max(cursor ?? last, last)
        }
    }

    private static func artifactType(of descriptor: [UInt8]) -> String? {
        (try? JSONParser.parse(descriptor, limits: ManifestDocument.limits))?["artifactType"]?.stringValue
    }

    /// `text` with every byte but RFC 3986's unreserved ones as `%XX`.
    private static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }
}
