/// A response's status line and header fields (RFC 9112 §4–5), parsed from the start of a
/// connection's receive buffer, and what they say about the body's framing.
///
/// Strict, like the server's request parser: CRLF line ends, no obsolete line folding, no
/// control characters, at most `maxBytes` and `maxFields`. An upstream that breaks these is
/// `.malformed`: two parsers disagreeing about where a body ends is how responses are smuggled.
struct UpstreamResponseHead: Sendable {
    /// The largest head accepted: the receive buffer holds a whole head.
    static let maxBytes = UpstreamConnection.receiveBufferSize
    static let maxFields = 256

    /// HTTP/1.`minorVersion`.
    let minorVersion: Int
    let status: Int
    /// Fields in the order received, names as sent.
    let fields: [(name: String, value: String)]

    /// The value of field `name` (any ASCII case); repeated fields joined with `, `.
    func field(_ name: String) -> String? {
        var joined: String?
        for field in fields where asciiCaseInsensitiveEquals(field.name, name) {
            joined = joined.map { $0 + ", " + field.value } ?? field.value
        }
        return joined
    }

    /// Every value of field `name`, in order (for fields that must not be joined).
    func values(_ name: String) -> [String] {
        fields.filter { asciiCaseInsensitiveEquals($0.name, name) }.map(\.value)
    }

    /// Parses a head from the start of `bytes`. Returns nil when its end has not arrived yet
    /// (and `bytes` is below `maxBytes`), else the head and how many bytes it used.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws(UpstreamConnectionFailure) -> (head: UpstreamResponseHead, consumed: Int)? {
        guard let end = endOfHead(bytes) else {
            if bytes.count >= maxBytes { throw malformed("the response head is larger than \(maxBytes) bytes") }
            return nil
        }
        var lines: [UnsafeRawBufferPointer] = []
        var start = 0
        while start < end {
            let lineEnd = HTTPParseSyntax.firstIndex(of: HTTPParseSyntax.cr, in: bytes, from: start)!
            guard lineEnd + 1 < bytes.count, bytes[lineEnd + 1] == HTTPParseSyntax.lf else {
                throw malformed("a CR without LF in the response head")
            }
            if let bareLF = HTTPParseSyntax.firstIndex(of: HTTPParseSyntax.lf, in: bytes, from: start), bareLF < lineEnd {
                throw malformed("a line ending in LF without CR in the response head")
            }
            lines.append(UnsafeRawBufferPointer(rebasing: bytes[start..<lineEnd]))
            start = lineEnd + 2
        }
        let (minorVersion, status) = try parseStatusLine(lines[0])
        guard lines.count - 1 <= maxFields else { throw malformed("more than \(maxFields) header fields") }
        var fields: [(name: String, value: String)] = []
        fields.reserveCapacity(lines.count - 1)
        for line in lines.dropFirst() {
            let field: HTTPHeaderLine
            do {
                field = try HTTPHeaderLine(validating: line)
            } catch {
                throw malformed("bad header field (\(error)): \(printable(line))")
            }
            fields.append((String(decoding: field.name, as: UTF8.self), String(decoding: field.value, as: UTF8.self)))
        }
        return (UpstreamResponseHead(minorVersion: minorVersion, status: status, fields: fields), end + 2)
    }

    /// How the body after this head is delimited (RFC 9112 §6.3), for a response to `method`.
    func framing(for method: UpstreamRequest.Method) throws(UpstreamConnectionFailure) -> ResponseBodyDecoder.Framing {
        if method == .head || (100..<200).contains(status) || status == 204 || status == 304 { return .none }
        if let codings = field("Transfer-Encoding") {
            let last = codings.split(separator: ",").last?.trimmingASCIIWhitespace.lowercased()
            return last == "chunked" ? .chunked : .untilClose
        }
        let lengths = values("Content-Length").flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
        guard let first = lengths.first else { return .untilClose }
        let text = first.trimmingASCIIWhitespace
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }), let length = UInt64(text) else {
            throw Self.malformed("Content-Length '\(first)' is not a number")
        }
        guard lengths.allSatisfy({ $0.trimmingASCIIWhitespace == text }) else {
            throw Self.malformed("conflicting Content-Length values")
        }
        return .length(length)
    }

    /// The body length the head announces, for a HEAD too: a `Content-Length` of digits
    /// without a `Transfer-Encoding`; nil otherwise.
    var announcedContentLength: UInt64? {
        guard field("Transfer-Encoding") == nil, let value = field("Content-Length")?.trimmingASCIIWhitespace,
            !value.isEmpty, value.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { return nil }
        return UInt64(value)
    }

    /// Whether the connection may carry another request after this response's body.
    var keepsConnectionAlive: Bool {
        let tokens = (field("Connection") ?? "").split(separator: ",").map { $0.trimmingASCIIWhitespace.lowercased() }
        if tokens.contains("close") { return false }
        // Both framings at once: a proxy on the way may have seen a different body.
        if field("Transfer-Encoding") != nil && field("Content-Length") != nil { return false }
        return minorVersion >= 1 || tokens.contains("keep-alive")
    }

    /// The offset of the empty line's CRLF that ends the head (after the CRLF of the last field
    /// line, so at least 2), or nil.
    private static func endOfHead(_ bytes: UnsafeRawBufferPointer) -> Int? {
        let (cr, lf) = (HTTPParseSyntax.cr, HTTPParseSyntax.lf)
        let window = UnsafeRawBufferPointer(rebasing: bytes[..<min(bytes.count, maxBytes)])
        var from = 0
        while let end = HTTPParseSyntax.firstIndex(of: lf, in: window, from: from) {
            if end >= 3 && bytes[end - 1] == cr && bytes[end - 2] == lf && bytes[end - 3] == cr {
                return end - 1
            }
            from = end + 1
        }
        return nil
    }

    /// `HTTP/1.x SP 3DIGIT [SP reason]`.
    private static func parseStatusLine(_ line: UnsafeRawBufferPointer) throws(UpstreamConnectionFailure) -> (Int, Int) {
        let prefix = Array("HTTP/1.".utf8)
        guard line.count >= 12, line.prefix(7).elementsEqual(prefix),
            let minor = digit(line[7]), line[8] == HTTPParseSyntax.space,
            let hundreds = digit(line[9]), let tens = digit(line[10]), let ones = digit(line[11]),
            line.count == 12 || line[12] == HTTPParseSyntax.space
        else { throw malformed("bad status line: \(printable(line))") }
        if let bad = HTTPParseSyntax.firstNonFieldValueByte(in: line, from: 12, to: line.count) {
            throw malformed("control character \(line[bad]) in the status line")
        }
        let status = hundreds * 100 + tens * 10 + ones
        guard status >= 100 else { throw malformed("bad status code \(status)") }
        return (minor, status)
    }

    private static func digit(_ byte: UInt8) -> Int? {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") ? Int(byte - UInt8(ascii: "0")) : nil
    }

    /// A line for an error message: at most 80 bytes, controls shown as `?`.
    private static func printable(_ line: UnsafeRawBufferPointer) -> String {
        String(decoding: line.prefix(80).map { $0 >= 0x20 && $0 < 0x7F ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
    }

    private static func malformed(_ reason: String) -> UpstreamConnectionFailure {
        UpstreamConnectionFailure(.malformed, reason)
    }
}

/// Whether two header names are equal ignoring ASCII case.
func asciiCaseInsensitiveEquals(_ a: String, _ b: String) -> Bool {
    a.utf8.count == b.utf8.count
        && zip(a.utf8, b.utf8).allSatisfy { HTTPParseSyntax.lowercased($0) == HTTPParseSyntax.lowercased($1) }
}

extension StringProtocol {
    /// Without spaces and tabs at either end (OWS).
    var trimmingASCIIWhitespace: String {
        let bytes = Array(utf8)
        var start = 0
        var end = bytes.count
        while start < end && (bytes[start] == 0x20 || bytes[start] == 0x09) { start += 1 }
        while end > start && (bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09) { end -= 1 }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }
}
