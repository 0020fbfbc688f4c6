/// The validated request line (RFC 9112 §3): method, where the path and query are, and the
/// version. Ranges are offsets into the parser's buffer, so no String is made until the
/// whole head has arrived.
struct HTTPRequestLine: Hashable, Sendable {
    var method: HTTPMethod
    /// The path's bytes; empty for an absolute-form target without a path, which means `/`.
    var path: Range<Int>
    /// The bytes after `?`, or nil without a `?`.
    var query: Range<Int>?
    var version: HTTPRequestHead.Version

    /// Parses `method SP request-target SP HTTP-version` from `buffer[line]` (without its
    /// CRLF). Exactly one SP separates the parts.
    ///
    /// Targets accepted:
    /// - origin-form (`/path?query`);
    /// - absolute-form with an `http` or `https` scheme (`http://host/path`), which RFC 9112
    ///   §3.2.2 asks servers to accept; the authority is ignored in favour of routing by path;
    /// - `*` with OPTIONS only.
    /// Authority-form (CONNECT) and anything else is `.invalidTarget`.
    init(parsing buffer: UnsafeRawBufferPointer, line: Range<Int>) throws(HTTPParseError) {
        typealias Syntax = HTTPParseSyntax
        var i = line.lowerBound
        while i < line.upperBound && buffer[i] != Syntax.space {
            guard Syntax.isTokenChar(buffer[i]) else {
                throw Syntax.error(for: buffer[i], otherwise: .invalidMethod)
            }
            i += 1
        }
        guard i > line.lowerBound else { throw .invalidMethod }
        guard i < line.upperBound else { throw .malformedRequestLine }
        method = HTTPMethod(token: UnsafeRawBufferPointer(rebasing: buffer[line.lowerBound..<i]))

        let targetStart = i + 1
        let lineBytes = UnsafeRawBufferPointer(rebasing: buffer[0..<line.upperBound])
        i = Syntax.firstIndex(of: Syntax.space, in: lineBytes, from: targetStart) ?? line.upperBound
        // Visible ASCII only, and no fragment: a fragment never belongs in a request.
        if let bad = Syntax.firstNonVisibleByte(in: buffer, from: targetStart, to: i) {
            throw Syntax.error(for: buffer[bad], otherwise: .invalidTarget)
        }
        let targetBytes = UnsafeRawBufferPointer(rebasing: buffer[0..<i])
        if Syntax.firstIndex(of: UInt8(ascii: "#"), in: targetBytes, from: targetStart) != nil { throw .invalidTarget }
        guard i > targetStart, i < line.upperBound else { throw .malformedRequestLine }
        (path, query) = try Self.pathAndQuery(buffer, target: targetStart..<i, method: method)
        version = try Self.version(UnsafeRawBufferPointer(rebasing: buffer[(i + 1)..<line.upperBound]))
    }

    private static func pathAndQuery(
        _ buffer: UnsafeRawBufferPointer, target: Range<Int>, method: HTTPMethod
    ) throws(HTTPParseError) -> (path: Range<Int>, query: Range<Int>?) {
        let bytes = UnsafeRawBufferPointer(rebasing: buffer[target])
        let pathStart: Int
        if bytes[0] == UInt8(ascii: "/") {
            pathStart = 0
        } else if bytes.count == 1 && bytes[0] == UInt8(ascii: "*") {
            guard method == .options else { throw .invalidTarget }
            return (target, nil)
        } else {
            pathStart = try authorityEnd(bytes)
        }
        let questionMark = HTTPParseSyntax.firstIndex(of: UInt8(ascii: "?"), in: bytes, from: pathStart)
        let pathEnd = questionMark ?? bytes.count
        let base = target.lowerBound
        return (base + pathStart..<base + pathEnd, questionMark.map { base + $0 + 1..<target.upperBound })
    }

    /// Where the path of an absolute-form target starts: after `http://authority`.
    private static func authorityEnd(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError) -> Int {
        let schemeLength: Int
        if bytes.count >= 7 && HTTPParseSyntax.equalsIgnoringCase(
            UnsafeRawBufferPointer(rebasing: bytes[0..<7]), "http://")
        {
            schemeLength = 7
        } else if bytes.count >= 8 && HTTPParseSyntax.equalsIgnoringCase(
            UnsafeRawBufferPointer(rebasing: bytes[0..<8]), "https://")
        {
            schemeLength = 8
        } else {
            throw .invalidTarget
        }
        var end = schemeLength
        while end < bytes.count && bytes[end] != UInt8(ascii: "/") && bytes[end] != UInt8(ascii: "?") {
            end += 1
        }
        guard end > schemeLength else { throw .invalidTarget }
        return end
    }

    private static func version(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError) -> HTTPRequestHead.Version {
        func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
        guard bytes.count == 8, bytes[0..<5].elementsEqual("HTTP/".utf8),
            isDigit(bytes[5]), bytes[6] == UInt8(ascii: "."), isDigit(bytes[7])
        else {
            for byte in bytes where byte == 0 || byte == HTTPParseSyntax.cr {
                throw HTTPParseSyntax.error(for: byte, otherwise: .invalidVersion)
            }
            throw .invalidVersion
        }
        switch (bytes[5], bytes[7]) {
        case (UInt8(ascii: "1"), UInt8(ascii: "1")): return .http1_1
        case (UInt8(ascii: "1"), UInt8(ascii: "0")): return .http1_0
        default: throw .unsupportedVersion
        }
    }
}
