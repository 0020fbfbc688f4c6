/// What the parser must act on from the header fields, gathered line by line so a head
/// split across reads is judged exactly like one read whole: framing, persistence, Host,
/// and the 100-continue expectation. Other fields are stored, not interpreted.
struct HTTPRequestHeadFacts: Hashable, Sendable {
    private var contentLength: UInt64?
    private var transferCodings = 0
    private var chunkedCodings = 0
    private var lastCodingIsChunked = false
    /// A Transfer-Encoding field with no coding in it: framing is claimed but unknown.
    private var emptyTransferEncoding = false
    private var hostCount = 0
    private var connectionClose = false
    private var connectionKeepAlive = false
    private var expectContinue = false

    /// Takes in one validated field. Errors that one field decides are thrown here.
    mutating func observe(_ field: HTTPHeaderLine) throws(HTTPParseError) {
        typealias Syntax = HTTPParseSyntax
        let name = field.name
        switch name.count {
        case 4 where Syntax.equalsIgnoringCase(name, "host"):
            hostCount += 1
            if hostCount > 1 { throw .duplicateHost }
            guard field.value.allSatisfy(Self.isHostByte) else { throw .invalidHost }
        case 6 where Syntax.equalsIgnoringCase(name, "expect"):
            Syntax.forEachListElement(field.value) { element in
                if Syntax.equalsIgnoringCase(element, "100-continue") { expectContinue = true }
            }
        case 10 where Syntax.equalsIgnoringCase(name, "connection"):
            Syntax.forEachListElement(field.value) { option in
                if Syntax.equalsIgnoringCase(option, "close") { connectionClose = true }
                if Syntax.equalsIgnoringCase(option, "keep-alive") { connectionKeepAlive = true }
            }
        case 14 where Syntax.equalsIgnoringCase(name, "content-length"):
            try observeContentLength(field.value)
        case 17 where Syntax.equalsIgnoringCase(name, "transfer-encoding"):
            let codingsBefore = transferCodings
            Syntax.forEachListElement(field.value) { coding in
                // A coding may carry parameters (`gzip;q=1`); only its name matters here.
                let end = Syntax.firstIndex(of: UInt8(ascii: ";"), in: coding, from: 0) ?? coding.count
                let isChunked = Syntax.equalsIgnoringCase(
                    Syntax.trimmed(UnsafeRawBufferPointer(rebasing: coding[0..<end])), "chunked")
                transferCodings += 1
                if isChunked { chunkedCodings += 1 }
                lastCodingIsChunked = isChunked
            }
            if transferCodings == codingsBefore { emptyTransferEncoding = true }
        default:
            break
        }
    }

    /// What `uri-host [":" port]` is made of (RFC 3986 §3.2.2: unreserved, pct-encoded,
    /// sub-delims, and the brackets and colons of IP literals and ports). Whitespace, `/`, `?`,
    /// `#`, `@` and bytes past ASCII are not, so a Host that another hop would read as a
    /// different authority is refused.
    private static func isHostByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        default: "-._~%!$&'()*+,;=:[]".utf8.contains(byte)
        }
    }

    /// Content-Length is `1*DIGIT`. Repeated fields and comma lists are accepted when every
    /// value is the same (RFC 9110 §8.6 allows either choice); a differing value is an error.
    private mutating func observeContentLength(_ value: UnsafeRawBufferPointer) throws(HTTPParseError) {
        var sawElement = false
        try HTTPParseSyntax.forEachListElement(value) { (element) throws(HTTPParseError) in
            sawElement = true
            var length: UInt64 = 0
            for byte in element {
                guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { throw .invalidContentLength }
                let (times10, overflow1) = length.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
                guard !overflow1 && !overflow2 else { throw .invalidContentLength }
                length = sum
            }
            if let previous = contentLength, previous != length { throw .conflictingContentLength }
            contentLength = length
        }
        guard sawElement else { throw .invalidContentLength }
    }

    /// Decides framing and persistence once the head is complete (RFC 9112 §6.3, §9.3).
    func finish(version: HTTPRequestHead.Version) throws(HTTPParseError)
        -> (body: HTTPRequestHead.BodyFraming, keepAlive: Bool, expectContinue: Bool)
    {
        if version == .http1_1 && hostCount == 0 { throw .missingHost }
        let keepAlive = !connectionClose && (version == .http1_1 || connectionKeepAlive)
        // RFC 9110 §10.1.1: a 100-continue expectation in HTTP/1.0 must be ignored.
        let expectContinue = expectContinue && version == .http1_1
        guard transferCodings > 0 || emptyTransferEncoding else {
            return (contentLength.map { .contentLength($0) } ?? .none, keepAlive, expectContinue)
        }
        if contentLength != nil { throw .contentLengthWithTransferEncoding }
        // HTTP/1.0 has no chunked coding; a 1.0 hop would frame such a body differently.
        if version == .http1_0 || emptyTransferEncoding || !lastCodingIsChunked || chunkedCodings > 1 {
            throw .invalidTransferEncoding
        }
        if transferCodings > 1 { throw .unsupportedTransferCoding }
        return (.chunked, keepAlive, expectContinue)
    }
}
