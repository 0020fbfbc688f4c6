/// An incremental HTTP/1.1 request head parser (RFC 9112): a value with no I/O.
///
/// Contract:
/// - One parser per connection, owned by the connection's loop thread.
/// - Call `parseHead` with all the unconsumed bytes of the connection, starting at the
///   first byte of the request. Each call must see at least the bytes of the previous call
///   (the buffer may have moved, its contents from the start may not change). Bytes may
///   arrive in any pieces: the result does not depend on how they were split.
/// - `.complete(head, consumed:)`: the head used the first `consumed` bytes; the body, if
///   any, starts there. The parser is reset and ready for the next request's bytes.
/// - `.error`: answer `error.status` and close the connection. Every later call returns
///   the same error.
/// - Limits are enforced before the head is complete, so a client cannot make the
///   connection hold a buffer of garbage: see `maxRequestLineBytes`,
///   `maxHeaderSectionBytes`, `maxHeaderCount`.
/// - Each byte is scanned once for line ends; the completed head is copied once.
///
/// Choices where RFC 9112 leaves room: bare LF line ends are rejected; empty lines before
/// the request line are skipped (they count towards `maxRequestLineBytes`); absolute-form
/// targets are accepted; equal repeated Content-Length values are accepted.
public struct HTTPRequestParser: Sendable {
    /// The longest request line, excluding its CRLF and counting any empty lines before it.
    public static let maxRequestLineBytes = 8 * 1024
    /// The longest header section: every header line and the final empty line, CRLFs included.
    public static let maxHeaderSectionBytes = 64 * 1024
    /// The most header fields in one request.
    public static let maxHeaderCount = 100

    public enum HeadResult: Hashable, Sendable {
        /// No complete head yet and nothing wrong so far; call again with more bytes.
        case needMore
        /// A head, which used the first `consumed` bytes of the buffer.
        case complete(HTTPRequestHead, consumed: Int)
        /// The request is unacceptable; answer `status` and close.
        case error(HTTPParseError)
    }

    private enum Phase: Hashable, Sendable {
        case requestLine
        case headers(HTTPRequestLine)
    }

    private var phase = Phase.requestLine
    /// Set once a request is rejected: the connection's framing is lost for good.
    private var failure: HTTPParseError?
    /// Where the first line not yet processed starts.
    private var lineStart = 0
    /// How far the search for the next LF got: bytes before it hold no LF after `lineStart`.
    private var searched = 0
    /// Where the header section starts: just after the request line.
    private var sectionStart = 0
    private var headerCount = 0
    private var facts = HTTPRequestHeadFacts()

    public init() {}

    /// Parses as far as `buffer` allows; see the type's contract.
    public mutating func parseHead(_ buffer: UnsafeRawBufferPointer) -> HeadResult {
        if let failure { return .error(failure) }
        precondition(buffer.count >= searched, "the buffer lost bytes the parser has seen")
        do {
            guard let (head, consumed) = try advance(buffer) else { return .needMore }
            self = HTTPRequestParser()
            return .complete(head, consumed: consumed)
        } catch {
            failure = error
            return .error(error)
        }
    }

    /// Processes every complete line, then checks the partial one against the limits.
    private mutating func advance(_ buffer: UnsafeRawBufferPointer) throws(HTTPParseError) -> (HTTPRequestHead, Int)? {
        typealias Syntax = HTTPParseSyntax
        while let lf = Syntax.firstIndex(of: Syntax.lf, in: buffer, from: max(lineStart, searched)) {
            let contentEnd = lf > lineStart && buffer[lf - 1] == Syntax.cr ? lf - 1 : lf
            let next = lf + 1
            searched = next
            // Limits first, then syntax, line by line: the same order however bytes arrive.
            switch phase {
            case .requestLine:
                if contentEnd > Self.maxRequestLineBytes { throw .requestLineTooLong }
                if contentEnd == lf { throw .bareLineFeed }
                if contentEnd > lineStart {
                    phase = .headers(try HTTPRequestLine(parsing: buffer, line: lineStart..<contentEnd))
                    sectionStart = next
                }
            case .headers(let requestLine):
                if next - sectionStart > Self.maxHeaderSectionBytes { throw .headerSectionTooLarge }
                if contentEnd == lf { throw .bareLineFeed }
                if contentEnd == lineStart {
                    return (try finish(buffer, requestLine, end: lineStart), next)
                }
                headerCount += 1
                if headerCount > Self.maxHeaderCount { throw .tooManyHeaders }
                let field = try HTTPHeaderLine(validating: UnsafeRawBufferPointer(rebasing: buffer[lineStart..<contentEnd]))
                try facts.observe(field)
            }
            lineStart = next
        }
        searched = buffer.count
        // A partial line: its content is at least its length less a CR that may end it.
        switch phase {
        case .requestLine where buffer.count > Self.maxRequestLineBytes + 1:
            throw .requestLineTooLong
        case .headers where buffer.count - sectionStart > Self.maxHeaderSectionBytes:
            throw .headerSectionTooLarge
        default:
            return nil
        }
    }

    /// Builds the head once the empty line at `end` has arrived.
    private func finish(
        _ buffer: UnsafeRawBufferPointer, _ requestLine: HTTPRequestLine, end: Int
    ) throws(HTTPParseError) -> HTTPRequestHead {
        let (body, keepAlive, expectContinue) = try facts.finish(version: requestLine.version)
        func string(_ range: Range<Int>) -> String {
            String(decoding: UnsafeRawBufferPointer(rebasing: buffer[range]), as: UTF8.self)
        }
        return HTTPRequestHead(
            method: requestLine.method,
            path: requestLine.path.isEmpty ? "/" : string(requestLine.path),
            query: requestLine.query.map(string),
            version: requestLine.version,
            keepAlive: keepAlive,
            expectContinue: expectContinue,
            body: body,
            headers: HTTPHeaderFields(
                validatedLines: UnsafeRawBufferPointer(rebasing: buffer[sectionStart..<end]), count: headerCount))
    }
}
