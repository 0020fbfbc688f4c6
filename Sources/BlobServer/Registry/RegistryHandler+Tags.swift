import BlobStore

/// `GET /v2/<name>/tags/list?n=&last=`: the repository's tags in lexical order, a page at a
/// time. A page holds at most `maxTagsPerPage`, whatever `n` asks, so an answer's size is
/// bounded; when more tags follow, `Link` names the next page (as the spec allows, a page may
/// then be shorter than `n`). Without `n` the first page is as large as allowed.
extension RegistryHandler {
    static let maxTagsPerPage = 1000

    func listTags(of repository: RepositoryName, _ query: QueryParameters) -> HandlerAction {
        let count: Int
        if let text = query["n"] {
            guard !text.isEmpty, text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
                return .respond(.oci(.unsupported, status: 400, detail: "n must be a non-negative integer"))
            }
            // Digits only, so a failed conversion means too large: the cap applies.
            count = min(Int(text) ?? .max, Self.maxTagsPerPage)
        } else {
            count = Self.maxTagsPerPage
        }
        let last = query["last"].flatMap { $0.isEmpty ? nil : $0 }
        if let last, Tag(last) == nil {
            return .respond(.oci(.unsupported, status: 400, detail: "last must be a tag"))
        }
        let namespace = query["ns"]
        return .blocking { [metadata] in
            let page: (tags: [String], hasMore: Bool)?
            do throws(SystemError) { page = try metadata.tags(in: repository, after: last, limit: count) } catch {
                return .respond(.serverFailure(detail: error.description))
            }
            guard let page else { return .respond(.oci(.nameUnknown, detail: "no repository \(repository)")) }
            var body = #"{"name":"# + JSONText.quoted(repository.value) + #","tags":["#
            body += page.tags.map(JSONText.quoted).joined(separator: ",")
            body += "]}"
            var headers: [(name: String, value: String)] = []
            if page.hasMore, count > 0, let next = page.tags.last {
                // Tags and host names need no percent-encoding.
                let ns = namespace.map { "&ns=\($0)" } ?? ""
                headers.append(("Link", #"</v2/\#(repository)/tags/list?n=\#(count)&last=\#(next)\#(ns)>; rel="next""#))
            }
            return .respond(Response(status: 200, headers: headers, body: .bytes(Array(body.utf8), contentType: "application/json")))
        }
    }
}
