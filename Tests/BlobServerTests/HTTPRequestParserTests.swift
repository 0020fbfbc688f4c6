import Testing
import TestSupport
@testable import BlobServer

/// The ways a socket may cut one input into pieces: whole, one byte at a time, and at
/// random points from fixed seeds (SplitMix64), so that a failure replays.
enum HTTPTestFeeding {
    /// Each plan lists where the pieces end, the last at `count`; a piece may be empty.
    static func plans(count: Int) -> [[Int]] {
        var plans = [[count], Array(0...count)]
        for seed in UInt64(1)...8 {
            var generator = SplitMix64(state: seed)
            let cuts = (0..<Int.random(in: 1...6, using: &generator)).map { _ in
                Int.random(in: 0...count, using: &generator)
            }
            plans.append(cuts.sorted() + [count])
        }
        return plans
    }
}

@Suite struct HTTPRequestParserTests {
    typealias HeadResult = HTTPRequestParser.HeadResult

    /// Feeds `bytes` as a connection does: the buffer holds every unconsumed byte, grows by
    /// one piece at a time, and a completed head is followed at once by the next request.
    /// A trailing `.needMore` means bytes were left over.
    static func parse(_ bytes: [UInt8], piecesEndingAt ends: [Int]) -> [HeadResult] {
        var parser = HTTPRequestParser()
        var start = 0
        var results: [HeadResult] = []
        for end in ends {
            pieces: while true {
                let result = bytes.withUnsafeBytes { parser.parseHead(UnsafeRawBufferPointer(rebasing: $0[start..<end])) }
                switch result {
                case .needMore:
                    break pieces
                case .complete(_, let consumed):
                    #expect(consumed > 0 && consumed <= end - start)
                    results.append(result)
                    start += consumed
                case .error:
                    results.append(result)
                    return results
                }
            }
        }
        if start < bytes.count { results.append(.needMore) }
        return results
    }

    /// The results for `bytes` read whole, after checking every other way of cutting them
    /// gives the same.
    static func results(_ bytes: [UInt8]) -> [HeadResult] {
        let whole = parse(bytes, piecesEndingAt: [bytes.count])
        for plan in HTTPTestFeeding.plans(count: bytes.count) {
            let split = parse(bytes, piecesEndingAt: plan)
            #expect(split == whole, "pieces ending at \(plan)")
        }
        return whole
    }

    static func results(_ text: String) -> [HeadResult] {
        results(Array(text.utf8))
    }

    /// The single head `text` parses to, having used all of it.
    static func head(_ text: String) -> HTTPRequestHead? {
        let results = results(text)
        guard results.count == 1, case .complete(let head, let consumed) = results[0] else {
            Issue.record("expected one head, got \(results)")
            return nil
        }
        #expect(consumed == text.utf8.count)
        return head
    }

    // MARK: Valid requests

    struct Valid: Sendable, CustomTestStringConvertible {
        let name: String
        let request: String
        var method: HTTPMethod = .get
        var path = "/"
        var query: String?
        var version: HTTPRequestHead.Version = .http1_1
        var keepAlive = true
        var expectContinue = false
        var body: HTTPRequestHead.BodyFraming = .none
        var testDescription: String { name }
    }

    static let valid: [Valid] = [
        .init(name: "a GET with a Host", request: "GET /v2/ HTTP/1.1\r\nHost: a\r\n\r\n", path: "/v2/"),
        .init(name: "a HEAD", request: "HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n", method: .head, path: "/x"),
        .init(
            name: "a PUT with Content-Length", request: "PUT /b HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
            method: .put, path: "/b", body: .contentLength(5)),
        .init(
            name: "a POST with chunked", request: "POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
            method: .post, path: "/u", body: .chunked),
        .init(
            name: "chunked in any case, with OWS",
            request: "PATCH /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  ChUnKeD \t\r\n\r\n",
            method: .patch, path: "/u", body: .chunked),
        .init(name: "a DELETE", request: "DELETE /d HTTP/1.1\r\nHost: a\r\n\r\n", method: .delete, path: "/d"),
        .init(name: "OPTIONS *", request: "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", method: .options, path: "*"),
        .init(name: "an unknown method", request: "PROPFIND / HTTP/1.1\r\nHost: a\r\n\r\n", method: .other),
        .init(name: "a lowercase method, which is another method", request: "get / HTTP/1.1\r\nHost: a\r\n\r\n", method: .other),
        .init(
            name: "a query", request: "GET /v2/r/tags/list?n=10&last=a HTTP/1.1\r\nHost: a\r\n\r\n",
            path: "/v2/r/tags/list", query: "n=10&last=a"),
        .init(name: "an empty query", request: "GET /a? HTTP/1.1\r\nHost: a\r\n\r\n", path: "/a", query: ""),
        .init(
            name: "an absolute-form target", request: "GET http://example.com:80/v2/?ns=x HTTP/1.1\r\nHost: a\r\n\r\n",
            path: "/v2/", query: "ns=x"),
        .init(name: "an absolute-form target without a path", request: "GET http://example.com HTTP/1.1\r\nHost: a\r\n\r\n"),
        .init(name: "an HTTPS absolute-form target with only a query", request: "GET HTTPS://h?q HTTP/1.1\r\nHost: a\r\n\r\n", query: "q"),
        .init(name: "HTTP/1.0 without a Host", request: "GET / HTTP/1.0\r\n\r\n", version: .http1_0, keepAlive: false),
        .init(name: "an empty Host", request: "GET / HTTP/1.1\r\nHost:\r\n\r\n"),
        .init(name: "an IPv6 Host with a port", request: "GET / HTTP/1.1\r\nHost: [::1]:5000\r\n\r\n"),
        .init(name: "a Host with every reg-name character", request: "GET / HTTP/1.1\r\nHost: a-b.c_d~e%41!$&'()*+,;=:80\r\n\r\n"),
        .init(
            name: "HTTP/1.0 with keep-alive", request: "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
            version: .http1_0, keepAlive: true),
        .init(
            name: "HTTP/1.0 with keep-alive and close", request: "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
            version: .http1_0, keepAlive: false),
        .init(name: "HTTP/1.1 with close", request: "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", keepAlive: false),
        .init(
            name: "close among other options in a second field",
            request: "GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nconnection: foo , CLOSE\r\n\r\n", keepAlive: false),
        .init(name: "HTTP/1.1 with other options", request: "GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n"),
        .init(
            name: "Expect: 100-continue", request: "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n",
            method: .put, expectContinue: true, body: .contentLength(1)),
        .init(name: "another expectation, which is ignored", request: "GET / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n"),
        .init(
            name: "100-continue on HTTP/1.0, which is ignored", request: "GET / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n",
            version: .http1_0, keepAlive: false),
        .init(
            name: "a list of equal Content-Length values",
            request: "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 42, 42\r\n\r\n", method: .put, body: .contentLength(42)),
        .init(
            name: "repeated equal Content-Length fields",
            request: "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\nContent-Length: 007\r\n\r\n", method: .put,
            body: .contentLength(7)),
        .init(
            name: "a zero Content-Length", request: "POST / HTTP/1.1\r\nHost: a\r\ncontent-length: 0\r\n\r\n",
            method: .post, body: .contentLength(0)),
        .init(
            name: "the largest Content-Length",
            request: "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551615\r\n\r\n", method: .put,
            body: .contentLength(.max)),
        .init(name: "empty lines before the request line", request: "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
        .init(
            name: "token characters, obs-text and empty values in fields",
            request: "GET / HTTP/1.1\r\nHost: a\r\nX-A!#$%&'*+.^_`|~1: v\r\nX-Text: caf\u{E9} \t\r\nX-Empty:\r\n\r\n"),
        .init(
            name: "long values with obs-text and tabs",
            request: "GET / HTTP/1.1\r\nHost: a\r\nX: \u{E9}\u{E9}\u{E9}\u{E9}\u{E9}\u{E9}\u{E9}\u{E9}\tab\t~~~~~~~~~~\r\n\r\n"),
    ]

    @Test(arguments: valid)
    func aValidRequestParsesTheSameHoweverItArrives(_ valid: Valid) throws {
        let head = try #require(Self.head(valid.request))
        #expect(head.method == valid.method)
        #expect(head.path == valid.path)
        #expect(head.query == valid.query)
        #expect(head.version == valid.version)
        #expect(head.keepAlive == valid.keepAlive)
        #expect(head.expectContinue == valid.expectContinue)
        #expect(head.body == valid.body)
    }

    // MARK: Invalid requests

    struct Invalid: Sendable, CustomTestStringConvertible {
        let name: String
        let request: String
        let error: HTTPParseError
        var testDescription: String { "\(name) is \(error)" }
    }

    static let invalid: [Invalid] = [
        .init(name: "a bare LF after the request line", request: "GET / HTTP/1.1\nHost: a\r\n\r\n", error: .bareLineFeed),
        .init(name: "a bare LF after a field", request: "GET / HTTP/1.1\r\nHost: a\n\r\n", error: .bareLineFeed),
        .init(name: "a bare LF as the final line", request: "GET / HTTP/1.1\r\nHost: a\r\n\n", error: .bareLineFeed),
        .init(name: "a bare LF as an empty line first", request: "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", error: .bareLineFeed),
        .init(name: "a bare CR in a value", request: "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", error: .bareCarriageReturn),
        .init(name: "a CR before CRLF", request: "GET / HTTP/1.1\r\nHost: a\r\r\n\r\n", error: .bareCarriageReturn),
        .init(name: "a bare CR in the target", request: "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", error: .bareCarriageReturn),
        .init(name: "a bare CR in a name", request: "GET / HTTP/1.1\r\nHo\rst: a\r\n\r\n", error: .bareCarriageReturn),
        .init(name: "NUL in a value", request: "GET / HTTP/1.1\r\nHost: a\u{0}b\r\n\r\n", error: .nulCharacter),
        .init(name: "NUL in a name", request: "GET / HTTP/1.1\r\nHo\u{0}st: a\r\n\r\n", error: .nulCharacter),
        .init(name: "NUL in the method", request: "G\u{0}T / HTTP/1.1\r\nHost: a\r\n\r\n", error: .nulCharacter),
        .init(name: "NUL in the target", request: "GET /\u{0} HTTP/1.1\r\nHost: a\r\n\r\n", error: .nulCharacter),
        .init(name: "NUL in the version", request: "GET / HTTP/1.\u{0}\r\nHost: a\r\n\r\n", error: .nulCharacter),
        .init(name: "a control character in a value", request: "GET / HTTP/1.1\r\nHost: a\u{1}\r\n\r\n", error: .invalidHeaderValue),
        .init(name: "DEL in a value", request: "GET / HTTP/1.1\r\nHost: a\u{7F}\r\n\r\n", error: .invalidHeaderValue),
        .init(
            name: "a control character deep in a long value",
            request: "GET / HTTP/1.1\r\nHost: a\r\nX: 0123456789abcdef0123\u{1F}456789\r\n\r\n", error: .invalidHeaderValue),
        .init(
            name: "DEL deep in a long value",
            request: "GET / HTTP/1.1\r\nHost: a\r\nX: 0123456789abcdef\u{7F}\r\n\r\n", error: .invalidHeaderValue),
        .init(
            name: "DEL deep in a long target", request: "GET /0123456789abcdef\u{7F} HTTP/1.1\r\nHost: a\r\n\r\n",
            error: .invalidTarget),
        .init(
            name: "a non-ASCII byte deep in a long target",
            request: "GET /0123456789abcdef/caf\u{E9} HTTP/1.1\r\nHost: a\r\n\r\n", error: .invalidTarget),
        .init(name: "a control character in a name", request: "GET / HTTP/1.1\r\nHo\u{1}st: a\r\n\r\n", error: .invalidHeaderName),
        .init(name: "a separator in a name", request: "GET / HTTP/1.1\r\nHost: a\r\nX(y): b\r\n\r\n", error: .invalidHeaderName),
        .init(name: "an empty name", request: "GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", error: .invalidHeaderName),
        .init(name: "a line without a colon", request: "GET / HTTP/1.1\r\nHost: a\r\nnocolon\r\n\r\n", error: .missingColon),
        .init(name: "a space before the colon", request: "GET / HTTP/1.1\r\nHost : a\r\n\r\n", error: .whitespaceBeforeColon),
        .init(name: "a tab before the colon", request: "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", error: .whitespaceBeforeColon),
        .init(name: "a folded line", request: "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n", error: .obsoleteLineFolding),
        .init(name: "a tab-folded line", request: "GET / HTTP/1.1\r\nHost: a\r\n\tc\r\n\r\n", error: .obsoleteLineFolding),
        .init(name: "HTTP/1.1 without Host", request: "GET / HTTP/1.1\r\nX: a\r\n\r\n", error: .missingHost),
        .init(name: "two Hosts", request: "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", error: .duplicateHost),
        .init(name: "two Hosts on HTTP/1.0", request: "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", error: .duplicateHost),
        .init(name: "a space inside Host", request: "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", error: .invalidHost),
        .init(name: "a path in Host", request: "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", error: .invalidHost),
        .init(name: "userinfo in Host", request: "GET / HTTP/1.1\r\nHost: u:p@a\r\n\r\n", error: .invalidHost),
        .init(name: "a byte past ASCII in Host", request: "GET / HTTP/1.1\r\nHost: caf\u{E9}\r\n\r\n", error: .invalidHost),
        .init(name: "a method with a separator", request: "G@T / HTTP/1.1\r\nHost: a\r\n\r\n", error: .invalidMethod),
        .init(name: "a request line starting with a space", request: " GET / HTTP/1.1\r\nHost: a\r\n\r\n", error: .invalidMethod),
        .init(name: "a method alone", request: "GET\r\nHost: a\r\n\r\n", error: .malformedRequestLine),
        .init(name: "a request line without a version", request: "GET /\r\nHost: a\r\n\r\n", error: .malformedRequestLine),
        .init(name: "two spaces after the method", request: "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", error: .malformedRequestLine),
        .init(name: "a space after the version", request: "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", error: .invalidVersion),
        .init(name: "a relative target", request: "GET example HTTP/1.1\r\nHost: a\r\n\r\n", error: .invalidTarget),
        .init(name: "* with GET", request: "GET * HTTP/1.1\r\nHost: a\r\n\r\n", error: .invalidTarget),
        .init(name: "a fragment", request: "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", error: .invalidTarget),
        .init(name: "another scheme", request: "GET ftp://h/ HTTP/1.1\r\nHost: a\r\n\r\n", error: .invalidTarget),
        .init(name: "authority-form", request: "CONNECT h:443 HTTP/1.1\r\nHost: a\r\n\r\n", error: .invalidTarget),
        .init(name: "an empty authority", request: "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", error: .invalidTarget),
        .init(name: "a non-ASCII target", request: "GET /caf\u{E9} HTTP/1.1\r\nHost: a\r\n\r\n", error: .invalidTarget),
        .init(name: "a tab in the target", request: "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", error: .invalidTarget),
        .init(name: "HTTP/1.2", request: "GET / HTTP/1.2\r\nHost: a\r\n\r\n", error: .unsupportedVersion),
        .init(name: "HTTP/2.0", request: "GET / HTTP/2.0\r\nHost: a\r\n\r\n", error: .unsupportedVersion),
        .init(name: "HTTP/0.9", request: "GET / HTTP/0.9\r\n\r\n", error: .unsupportedVersion),
        .init(name: "a lowercase version", request: "GET / http/1.1\r\nHost: a\r\n\r\n", error: .invalidVersion),
        .init(name: "a two-digit minor version", request: "GET / HTTP/1.10\r\nHost: a\r\n\r\n", error: .invalidVersion),
        .init(name: "a version without a minor", request: "GET / HTTP/1\r\nHost: a\r\n\r\n", error: .invalidVersion),
        .init(name: "a letter in Content-Length", request: "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 1a\r\n\r\n", error: .invalidContentLength),
        .init(name: "a negative Content-Length", request: "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", error: .invalidContentLength),
        .init(name: "a signed Content-Length", request: "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", error: .invalidContentLength),
        .init(name: "a space inside Content-Length", request: "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", error: .invalidContentLength),
        .init(name: "an empty Content-Length", request: "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", error: .invalidContentLength),
        .init(
            name: "a Content-Length over 64 bits",
            request: "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n", error: .invalidContentLength),
        .init(
            name: "a list of different Content-Length values",
            request: "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n", error: .conflictingContentLength),
        .init(
            name: "different Content-Length fields",
            request: "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", error: .conflictingContentLength),
        .init(
            name: "Content-Length then Transfer-Encoding",
            request: "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            error: .contentLengthWithTransferEncoding),
        .init(
            name: "Transfer-Encoding then Content-Length",
            request: "PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n",
            error: .contentLengthWithTransferEncoding),
        .init(
            name: "gzip alone", request: "PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
            error: .invalidTransferEncoding),
        .init(
            name: "chunked before gzip", request: "PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            error: .invalidTransferEncoding),
        .init(
            name: "chunked twice", request: "PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            error: .invalidTransferEncoding),
        .init(
            name: "an empty Transfer-Encoding", request: "PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n",
            error: .invalidTransferEncoding),
        .init(
            name: "a Transfer-Encoding of commas", request: "PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,\r\n\r\n",
            error: .invalidTransferEncoding),
        .init(
            name: "chunked on HTTP/1.0", request: "PUT / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            error: .invalidTransferEncoding),
        .init(
            name: "gzip before chunked", request: "PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            error: .unsupportedTransferCoding),
        .init(
            name: "gzip and chunked in two fields",
            request: "PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
            error: .unsupportedTransferCoding),
    ]

    @Test(arguments: invalid)
    func anInvalidRequestFailsTheSameHoweverItArrives(_ invalid: Invalid) {
        #expect(Self.results(invalid.request) == [.error(invalid.error)])
    }

    @Test func aRejectedParserKeepsReturningItsError() {
        var parser = HTTPRequestParser()
        let bytes = Array("GET / HTTP/9.9\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
        for _ in 0..<2 {
            let result = bytes.withUnsafeBytes { parser.parseHead($0) }
            #expect(result == .error(.unsupportedVersion))
        }
    }

    static let statuses: [(HTTPParseError, Int)] = [
        (.requestLineTooLong, 414), (.headerSectionTooLarge, 431), (.tooManyHeaders, 431),
        (.unsupportedTransferCoding, 501), (.unsupportedVersion, 505), (.invalidMethod, 400),
        (.malformedRequestLine, 400), (.invalidTarget, 400), (.invalidVersion, 400), (.bareLineFeed, 400),
        (.bareCarriageReturn, 400), (.nulCharacter, 400), (.invalidHeaderName, 400), (.invalidHeaderValue, 400),
        (.missingColon, 400), (.whitespaceBeforeColon, 400), (.obsoleteLineFolding, 400), (.missingHost, 400),
        (.duplicateHost, 400), (.invalidHost, 400), (.invalidContentLength, 400), (.conflictingContentLength, 400),
        (.contentLengthWithTransferEncoding, 400), (.invalidTransferEncoding, 400),
    ]

    @Test(arguments: statuses)
    func eachErrorMapsToItsStatus(_ error: HTTPParseError, _ status: Int) {
        #expect(error.status == status)
    }

    // MARK: Incomplete input and pipelining

    @Test(arguments: [
        "", "\r\n", "GET", "GET / HTTP/1.1", "GET / HTTP/1.1\r", "GET / HTTP/1.1\r\nHost: a",
        "GET / HTTP/1.1\r\nHost: a\r\n", "GET / HTTP/1.1\r\nHost: a\r\n\r",
    ])
    func aPrefixOfAValidRequestNeedsMore(_ prefix: String) {
        #expect(Self.results(prefix) == (prefix.isEmpty ? [] : [.needMore]))
    }

    @Test func pipelinedRequestsParseOneAfterAnotherWithTheirOwnLengths() throws {
        let requests = [
            "GET /a HTTP/1.1\r\nHost: a\r\n\r\n",
            "HEAD /b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            "\r\nDELETE /c?x=1 HTTP/1.0\r\n\r\n",
        ]
        let results = Self.results(requests.joined() + "GET /partial")
        try #require(results.count == 4)
        for (result, request) in zip(results, requests) {
            guard case .complete(_, let consumed) = result else { Issue.record("\(result)"); continue }
            #expect(consumed == request.utf8.count)
        }
        guard case .complete(let last, _) = results[2] else { return }
        #expect(last.method == .delete && last.path == "/c" && last.query == "x=1")
        #expect(results[3] == .needMore)
    }

    @Test func aBodyBetweenPipelinedRequestsIsSkippedByItsContentLength() throws {
        let bytes = Array("PUT /b HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /n HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
        var parser = HTTPRequestParser()
        let first = bytes.withUnsafeBytes { parser.parseHead($0) }
        guard case .complete(let put, let headLength) = first, case .contentLength(let length) = put.body else {
            Issue.record("\(first)")
            return
        }
        let bodyEnd = headLength + Int(length)
        #expect(String(decoding: bytes[headLength..<bodyEnd], as: UTF8.self) == "hello")
        let second = bytes.withUnsafeBytes { parser.parseHead(UnsafeRawBufferPointer(rebasing: $0[bodyEnd...])) }
        guard case .complete(let get, let consumed) = second else { Issue.record("\(second)"); return }
        #expect(get.path == "/n" && consumed == bytes.count - bodyEnd)
    }

    // MARK: Limits

    /// A GET whose request line, CRLF excluded, is `length` bytes long.
    static func requestLine(length: Int) -> String {
        let fixed = "GET / HTTP/1.1".utf8.count
        return "GET /" + String(repeating: "a", count: length - fixed) + " HTTP/1.1"
    }

    @Test func aRequestLineAtTheLimitPasses() {
        let line = Self.requestLine(length: HTTPRequestParser.maxRequestLineBytes)
        #expect(Self.head(line + "\r\nHost: a\r\n\r\n") != nil)
    }

    @Test func aRequestLineOneOverTheLimitIs414() {
        let line = Self.requestLine(length: HTTPRequestParser.maxRequestLineBytes + 1)
        #expect(Self.results(line + "\r\nHost: a\r\n\r\n") == [.error(.requestLineTooLong)])
    }

    @Test func emptyLinesBeforeTheRequestLineCountTowardsItsLimit() {
        let line = Self.requestLine(length: HTTPRequestParser.maxRequestLineBytes - 1)
        #expect(Self.results("\r\n" + line + "\r\nHost: a\r\n\r\n") == [.error(.requestLineTooLong)])
    }

    @Test func anUnfinishedRequestLineFailsAsSoonAsItCannotFit() {
        let limit = HTTPRequestParser.maxRequestLineBytes
        // One byte over could still be the CR of a line exactly at the limit.
        #expect(Self.results(String(repeating: "a", count: limit + 1)) == [.needMore])
        #expect(Self.results(String(repeating: "a", count: limit + 2)) == [.error(.requestLineTooLong)])
    }

    /// A GET whose header section (fields and the final CRLF) is `length` bytes long.
    static func request(headerSectionLength length: Int) -> String {
        let fixed = "Host: a\r\nX-Pad: \r\n\r\n".utf8.count
        return "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: " + String(repeating: "p", count: length - fixed) + "\r\n\r\n"
    }

    @Test func aHeaderSectionAtTheLimitPasses() {
        #expect(Self.head(Self.request(headerSectionLength: HTTPRequestParser.maxHeaderSectionBytes)) != nil)
    }

    @Test func aHeaderSectionOneOverTheLimitIs431() {
        let request = Self.request(headerSectionLength: HTTPRequestParser.maxHeaderSectionBytes + 1)
        #expect(Self.results(request) == [.error(.headerSectionTooLarge)])
    }

    @Test func anUnfinishedHeaderSectionFailsAsSoonAsItIsOverTheLimit() {
        let start = "GET / HTTP/1.1\r\nX-Pad: "
        let section = HTTPRequestParser.maxHeaderSectionBytes
        let atLimit = start + String(repeating: "p", count: section - "X-Pad: ".utf8.count)
        #expect(Self.results(atLimit) == [.needMore])
        #expect(Self.results(atLimit + "p") == [.error(.headerSectionTooLarge)])
    }

    static func request(fieldCount: Int) -> String {
        "GET / HTTP/1.1\r\nHost: a\r\n" + (1..<fieldCount).map { "X-\($0): \($0)\r\n" }.joined() + "\r\n"
    }

    @Test func aGetWithAHundredFieldsPasses() throws {
        let head = try #require(Self.head(Self.request(fieldCount: HTTPRequestParser.maxHeaderCount)))
        #expect(head.headers.count == 100)
        #expect(head.headers.value("x-99") == "99")
    }

    @Test func aGetWithAHundredAndOneFieldsIs431() {
        #expect(Self.results(Self.request(fieldCount: 101)) == [.error(.tooManyHeaders)])
    }

    // MARK: Header fields

    @Test func fieldsAreFoundByNameInAnyCaseWithoutTheirWhitespace() throws {
        let head = try #require(
            Self.head("GET / HTTP/1.1\r\nHOST:  example.com \t\r\nX-Dup: first\r\nx-dup: second\r\nX-Empty:\r\n\r\n"))
        let fields = head.headers
        #expect(fields.count == 4)
        #expect(fields.value("host") == "example.com")
        #expect(fields.valueBytes("Host").map(Array.init) == Array("example.com".utf8))
        #expect(fields.value("x-dup") == "first")
        #expect(fields.value("x-empty") == "")
        #expect(fields.contains("X-EMPTY"))
        #expect(!fields.contains("x-missing"))
        #expect(fields.value("x-missing") == nil)
        #expect(fields.value("hos") == nil)
    }

    @Test func fieldsIterateInTheOrderReceivedWithTheirOriginalCase() throws {
        let head = try #require(Self.head("GET / HTTP/1.1\r\nHost: a\r\nX-Dup: 1\r\nx-dup:2\r\n\r\n"))
        let pairs = head.headers.map { (String(decoding: $0.name, as: UTF8.self), String(decoding: $0.value, as: UTF8.self)) }
        #expect(pairs.map(\.0) == ["Host", "X-Dup", "x-dup"])
        #expect(pairs.map(\.1) == ["a", "1", "2"])
    }

    @Test func headerFieldsAreOneStorageReferenceAndACount() {
        // One array holds the index and the bytes: one allocation per request, none per field.
        #expect(MemoryLayout<HTTPHeaderFields>.size == 2 * MemoryLayout<Int>.size)
    }

    @Test func aContainerdBlobGetParsesCompletely() throws {
        let digest = "sha256:" + String(repeating: "0123456789abcdef", count: 4)
        let request = """
            GET /v2/library/ubuntu/blobs/\(digest)?ns=docker.io HTTP/1.1\r
            Host: 127.0.0.1:5000\r
            User-Agent: containerd/v1.7.24\r
            Accept: application/vnd.oci.image.layer.v1.tar+gzip, */*\r
            Range: bytes=0-\r
            Authorization: Bearer abc.def.ghi\r
            Accept-Encoding: gzip\r
            \r

            """
        let head = try #require(Self.head(request))
        #expect(head.method == .get)
        #expect(head.path == "/v2/library/ubuntu/blobs/\(digest)")
        #expect(head.query == "ns=docker.io")
        #expect(head.version == .http1_1 && head.keepAlive && !head.expectContinue && head.body == HTTPRequestHead.BodyFraming.none)
        #expect(head.headers.count == 6)
        #expect(head.headers.value("user-agent") == "containerd/v1.7.24")
        #expect(head.headers.value("range") == "bytes=0-")
        #expect(head.headers.value("authorization") == "Bearer abc.def.ghi")
        #expect(head.headers.value("accept") == "application/vnd.oci.image.layer.v1.tar+gzip, */*")
    }
}
