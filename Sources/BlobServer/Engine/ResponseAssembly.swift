import BlobStore

/// Turns a handler's `Response` into what goes on the wire: the head, and the body as literal
/// bytes and ranges of a blob. Pure: no I/O, so every status and field rule is unit-tested.
struct ResponseAssembly {
    /// The head without its final `Connection`/empty line (the connection decides on closing).
    var head: HTTPResponseHead
    /// The body in order; empty for HEAD, 204 and 304.
    var parts: [MultipartByteranges.Part]
    /// Body bytes the response announces and sends.
    var bodyLength: UInt64

    var status: Int { head.status }

    /// A response whose body is `.empty`, `.bytes` or `.announced` (whose bytes are never sent:
    /// only HEAD answers carry one). Invalid handler fields become a 500.
    static func plain(_ response: Response, isHead: Bool, date: [UInt8]) -> ResponseAssembly {
        var head = HTTPResponseHead(status: response.status, date: date)
        do {
            for field in response.headers { try head.add(name: field.name, value: field.value) }
            var body: [UInt8] = []
            var announced: UInt64? = nil
            switch response.body {
            case .empty: break
            case .bytes(let bytes, let contentType):
                try head.add("Content-Type", contentType)
                body = bytes
            case .announced(let length, let contentType):
                guard isHead else { return internalError(date: date, detail: "a body was announced but not given") }
                try head.add("Content-Type", contentType)
                announced = length
            case .blob, .growing: preconditionFailure("blob bodies are assembled with `blob`")
            }
            let bodyless = response.status == 204 || response.status == 304 || response.status < 200
            if !bodyless { head.add("Content-Length", announced ?? UInt64(body.count)) }
            let sendBody = !isHead && !bodyless && !body.isEmpty
            return ResponseAssembly(head: head, parts: sendBody ? [.literal(body)] : [], bodyLength: sendBody ? UInt64(body.count) : 0)
        } catch {
            return internalError(date: date, detail: "the handler produced an invalid field \(error.name)")
        }
    }

    /// A GET or HEAD of a blob of `size` bytes: conditionals, ranges (single, multiple as
    /// multipart/byteranges, 416), and the blob's fields. `boundary` is only called for a
    /// multipart answer.
    static func blob(
        _ digest: Digest, size: UInt64, contentType: String, extraHeaders: [(name: String, value: String)],
        request: HTTPRequestHead, date: [UInt8], boundary: () -> String
    ) -> ResponseAssembly {
        let isHead = request.method == .head
        let digestText = digest.description
        let etag = "\"" + digestText + "\""
        let rangeValue = request.method == .get ? request.headers.valueBytes("range") : nil
        let outcome = etag.utf8.withContiguousStorageIfAvailable { tag in
            withOptionalBytes(request.headers.valueBytes("if-match")) { ifMatch in
                withOptionalBytes(request.headers.valueBytes("if-none-match")) { ifNoneMatch in
                    withOptionalBytes(request.headers.valueBytes("if-range")) { ifRange in
                        ConditionalRequest.evaluate(
                            isGetOrHead: true, hasRange: rangeValue != nil, currentETag: UnsafeRawBufferPointer(tag),
                            ifMatch: ifMatch, ifNoneMatch: ifNoneMatch, ifRange: ifRange)
                    }
                }
            }
        } ?? .proceed

        func start(_ status: Int) -> HTTPResponseHead {
            var head = HTTPResponseHead(status: status, date: date)
            // Digests and our own fields are plain ASCII; only the handler's can be refused.
            head.addTrusted("ETag", etag)
            head.addTrusted("Docker-Content-Digest", digestText)
            head.addTrusted("Accept-Ranges", "bytes")
            for field in extraHeaders { try? head.add(name: field.name, value: field.value) }
            return head
        }

        switch outcome {
        case .notModified:
            return ResponseAssembly(head: start(304), parts: [], bodyLength: 0)
        case .preconditionFailed:
            var head = start(412)
            head.add("Content-Length", 0)
            return ResponseAssembly(head: head, parts: [], bodyLength: 0)
        case .proceed, .ignoreRange:
            break
        }
        let header = outcome == .proceed ? rangeValue.map { bytes in bytes.withUnsafeBytes { RangeHeader(parsing: $0) } } : nil
        switch ByteRangeResolution(header, size: size) {
        case .full:
            var head = start(200)
            try? head.add("Content-Type", contentType)
            head.add("Content-Length", size)
            let parts: [MultipartByteranges.Part] = isHead || size == 0 ? [] : [.blob(ByteRange(first: 0, last: size - 1))]
            return ResponseAssembly(head: head, parts: parts, bodyLength: isHead ? 0 : size)
        case .single(let range):
            var head = start(206)
            try? head.add("Content-Type", contentType)
            head.addTrusted("Content-Range", ContentRange.bytes(range, completeLength: size).description)
            head.add("Content-Length", range.count)
            return ResponseAssembly(head: head, parts: [.blob(range)], bodyLength: range.count)
        case .multiple(let ranges):
            guard let plan = try? MultipartByteranges(ranges: ranges, size: size, contentType: contentType, boundary: boundary()) else {
                return internalError(date: date, detail: "no multipart plan for the ranges")
            }
            var head = start(206)
            try? head.add("Content-Type", plan.contentType)
            head.add("Content-Length", plan.contentLength)
            return ResponseAssembly(head: head, parts: plan.parts, bodyLength: plan.contentLength)
        case .unsatisfiable:
            var head = start(416)
            head.addTrusted("Content-Range", ContentRange.unsatisfied(completeLength: size).description)
            head.add("Content-Length", 0)
            return ResponseAssembly(head: head, parts: [], bodyLength: 0)
        }
    }

    /// 500 with an error body in the OCI shape (code UNKNOWN, as registries send), for
    /// failures that are ours.
    static func internalError(date: [UInt8], detail: String) -> ResponseAssembly {
        var body = #"{"errors":[{"code":"UNKNOWN","message":"internal server error","detail":"#
        Logger.appendQuoted(detail, to: &body)
        body += "}]}"
        return plain(Response(status: 500, body: .bytes(Array(body.utf8), contentType: "application/json")), isHead: false, date: date)
    }

    private static func withOptionalBytes<R>(_ bytes: ArraySlice<UInt8>?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
        guard let bytes else { return body(nil) }
        return bytes.withUnsafeBytes { body($0) }
    }
}
