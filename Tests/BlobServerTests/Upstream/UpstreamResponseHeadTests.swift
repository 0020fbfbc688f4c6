import Testing
@testable import BlobServer

@Suite struct UpstreamResponseHeadTests {
    /// Parses `text` as a connection would, bytes arriving in pieces, and checks every cut gives
    /// the same head and length as the whole.
    static func parse(_ text: String) throws -> (head: UpstreamResponseHead, consumed: Int)? {
        let bytes = Array(text.utf8)
        let whole = try bytes.withUnsafeBytes { try UpstreamResponseHead.parse($0) }
        for plan in HTTPTestFeeding.plans(count: bytes.count) {
            var result: (head: UpstreamResponseHead, consumed: Int)?
            for end in plan where result == nil {
                result = try bytes.withUnsafeBytes { try UpstreamResponseHead.parse(UnsafeRawBufferPointer(rebasing: $0[..<end])) }
            }
            #expect(result?.consumed == whole?.consumed)
            #expect(result?.head.status == whole?.head.status)
        }
        return whole
    }

    static func failure(_ text: String) -> String? {
        do {
            _ = try parse(text)
            return nil
        } catch let error as UpstreamConnectionFailure {
            return error.kind == .malformed ? error.message : "not malformed: \(error.kind)"
        } catch {
            return "\(error)"
        }
    }

    @Test func aHeadGivesStatusFieldsAndItsLength() throws {
        let text = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nx-a:  2 \r\n\r\nhello"
        let (head, consumed) = try #require(try Self.parse(text))
        #expect(head.status == 200)
        #expect(head.minorVersion == 1)
        #expect(consumed == text.utf8.count - 5)
        #expect(head.field("x-A") == "1, 2")
        #expect(head.values("X-A") == ["1", "2"])
        #expect(head.field("missing") == nil)
    }

    @Test func anIncompleteHeadNeedsMore() throws {
        #expect(try Self.parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n") == nil)
    }

    @Test(arguments: ["HTTP/1.0 204\r\n\r\n", "HTTP/1.1 404 \r\n\r\n", "HTTP/1.1 503 Service Unavailable, really\r\n\r\n"])
    func aStatusLineMayOmitOrExtendTheReason(_ text: String) throws {
        #expect(try Self.parse(text) != nil)
    }

    @Test(arguments: [
        "HTTP/1.1 abc OK\r\n\r\n", "HTTP/2 200 OK\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n",
        "ICY 200 OK\r\n\r\n", "HTTP/1.1 099 Low\r\n\r\n", "\r\n\r\n", "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\n folded\r\n\r\n", "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", "HTTP/1.1 200 OK\nX: y\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", "HTTP/1.1 200 O\u{1}K\r\n\r\n",
    ])
    func aMalformedHeadIsRefused(_ text: String) {
        #expect(Self.failure(text) != nil)
    }

    @Test func aHeadLargerThanTheBufferIsRefused() {
        let text = "HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: UpstreamResponseHead.maxBytes) + "\r\n\r\n"
        #expect(Self.failure(text)?.contains("larger than") == true)
    }

    @Test func tooManyFieldsAreRefused() {
        let text = "HTTP/1.1 200 OK\r\n" + String(repeating: "X: y\r\n", count: UpstreamResponseHead.maxFields + 1) + "\r\n"
        #expect(Self.failure(text)?.contains("header fields") == true)
    }

    func framing(_ fields: String, status: Int = 200, method: UpstreamRequest.Method = .get) throws -> ResponseBodyDecoder.Framing {
        let (head, _) = try #require(try Self.parse("HTTP/1.1 \(status) X\r\n\(fields)\r\n"))
        return try head.framing(for: method)
    }

    @Test func framingFollowsTheFields() throws {
        #expect(try framing("Content-Length: 42\r\n") == .length(42))
        #expect(try framing("Content-Length: 42, 42\r\nContent-Length: 42\r\n") == .length(42))
        #expect(try framing("Transfer-Encoding: chunked\r\n") == .chunked)
        #expect(try framing("Transfer-Encoding: gzip, Chunked\r\nContent-Length: 3\r\n") == .chunked)
        #expect(try framing("Transfer-Encoding: gzip\r\n") == .untilClose)
        #expect(try framing("") == .untilClose)
        #expect(try framing("Content-Length: 42\r\n", method: .head) == .none)
        #expect(try framing("Content-Length: 42\r\n", status: 204) == .none)
        #expect(try framing("Content-Length: 42\r\n", status: 304) == .none)
    }

    @Test(arguments: ["Content-Length: 1\r\nContent-Length: 2\r\n", "Content-Length: -1\r\n", "Content-Length: 0x10\r\n",
                      "Content-Length: 99999999999999999999999\r\n", "Content-Length:\r\n"])
    func aBadContentLengthIsMalformed(_ fields: String) {
        #expect(throws: UpstreamConnectionFailure.self) { try framing(fields) }
    }

    @Test(arguments: [
        ("HTTP/1.1", "", true), ("HTTP/1.1", "Connection: close\r\n", false), ("HTTP/1.1", "Connection: Keep-Alive, CLOSE\r\n", false),
        ("HTTP/1.0", "", false), ("HTTP/1.0", "Connection: keep-alive\r\n", true),
        ("HTTP/1.1", "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", false),
    ])
    func keepAliveFollowsTheVersionAndConnectionField(version: String, fields: String, alive: Bool) throws {
        let (head, _) = try #require(try Self.parse("\(version) 200 OK\r\n\(fields)\r\n"))
        #expect(head.keepsConnectionAlive == alive)
    }

    @Test func theAnnouncedLengthIsReadForHeadToo() throws {
        #expect(try Self.parse("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n")?.head.announcedContentLength == 1234)
        #expect(try Self.parse("HTTP/1.1 200 OK\r\nContent-Length: 12\r\nTransfer-Encoding: chunked\r\n\r\n")?.head.announcedContentLength == nil)
        #expect(try Self.parse("HTTP/1.1 200 OK\r\n\r\n")?.head.announcedContentLength == nil)
    }
}

@Suite struct UpstreamResponseBodyDecoderTests {
    /// The body bytes and whether the end was seen, feeding `wire` in pieces of `piece` bytes and
    /// taking at most `take` body bytes per call, as `read(into:)` does with a small buffer.
    static func decode(_ wire: [UInt8], framing: ResponseBodyDecoder.Framing, piece: Int, take: Int) -> (body: [UInt8], ended: Bool, broken: Bool) {
        var decoder = ResponseBodyDecoder(framing: framing)
        var body: [UInt8] = []
        var start = 0
        var available = 0
        while true {
            let limit = min(available - start, take)
            let event = wire.withUnsafeBytes { decoder.decode(UnsafeRawBufferPointer(rebasing: $0[start..<(start + limit)])) }
            switch event {
            case .data(let range):
                body += wire[(start + range.lowerBound)..<(start + range.upperBound)]
                start += range.upperBound
            case .needMore:
                start += limit
                if start == available {
                    guard available < wire.count else { return (body, false, false) }
                    available = min(wire.count, available + piece)
                }
            case .end:
                return (body, true, false)
            case .broken:
                return (body, false, true)
            }
        }
    }

    @Test(arguments: [1, 3, 1000])
    func everyFramingGivesTheSameBodyHoweverItIsCut(piece: Int) {
        let body = Array("the quick brown fox jumps over the lazy dog".utf8)
        var chunked: [UInt8] = []
        for start in stride(from: 0, to: body.count, by: 10) {
            let chunk = body[start..<min(body.count, start + 10)]
            chunked += Array("\(String(chunk.count, radix: 16));ext=1\r\n".utf8) + chunk + [13, 10]
        }
        chunked += Array("0\r\nTrailer: x\r\n\r\n".utf8)
        for take in [1, 7, 100] {
            #expect(Self.decode(body, framing: .length(UInt64(body.count)), piece: piece, take: take) == (body, true, false))
            #expect(Self.decode(chunked, framing: .chunked, piece: piece, take: take) == (body, true, false))
            #expect(Self.decode(body, framing: .untilClose, piece: piece, take: take) == (body, false, false))
        }
    }

    @Test func aLengthBodyIsCompleteAtItsLastByteAndNoneAtOnce() {
        var decoder = ResponseBodyDecoder(framing: .length(3))
        #expect(!decoder.isComplete)
        let event = Array("abcdef".utf8).withUnsafeBytes { decoder.decode($0) }
        #expect(event == .data(0..<3))
        #expect(decoder.isComplete && decoder.endsAtClose)
        #expect(ResponseBodyDecoder(framing: .none).isComplete)
        #expect(ResponseBodyDecoder(framing: .length(0)).isComplete)
    }

    @Test func brokenChunkedFramingIsReported() {
        #expect(Self.decode(Array("5\r\nhelloXX0\r\n\r\n".utf8), framing: .chunked, piece: 100, take: 100).broken)
        #expect(Self.decode(Array("zz\r\n".utf8), framing: .chunked, piece: 100, take: 100).broken)
    }
}

@Suite struct UpstreamBodyResumePointTests {
    @Test func aWholeBodyResumesFromWhereItStopped() throws {
        let point = try #require(BodyResumePoint(status: 200, contentRange: nil))
        #expect(point.rangeField(delivered: 1000) == "bytes=1000-")
        #expect(point.accept(status: 206, contentRange: "bytes 1000-4999/5000", delivered: 1000) == .follows)
        #expect(point.accept(status: 206, contentRange: "bytes 999-4999/5000", delivered: 1000) != .follows)
        #expect(point.accept(status: 200, contentRange: nil, delivered: 1000) == .skip(1000))
        #expect(point.accept(status: 206, contentRange: nil, delivered: 1000) != .follows)
        #expect(point.accept(status: 416, contentRange: "bytes */5000", delivered: 1000) != .follows)
        #expect(point.accept(status: 404, contentRange: nil, delivered: 1000) != .follows)
    }

    @Test func aPartialBodyResumesWithinItsRange() throws {
        let open = try #require(BodyResumePoint(status: 206, contentRange: "bytes 100-4999/5000"))
        #expect(open.rangeField(delivered: 10) == "bytes=110-")
        #expect(open.accept(status: 200, contentRange: nil, delivered: 10) == .skip(110))
        let closed = try #require(BodyResumePoint(status: 206, contentRange: "bytes 100-199/5000"))
        #expect(closed.rangeField(delivered: 10) == "bytes=110-199")
        #expect(closed.accept(status: 206, contentRange: "bytes 110-199/5000", delivered: 10) == .follows)
        #expect(closed.accept(status: 206, contentRange: "bytes 110-4999/5000", delivered: 10) != .follows)
        #expect(closed.accept(status: 200, contentRange: nil, delivered: 10) != .follows)
    }

    @Test func otherResponsesAreNotResumed() {
        #expect(BodyResumePoint(status: 404, contentRange: nil) == nil)
        #expect(BodyResumePoint(status: 206, contentRange: nil) == nil)
        #expect(BodyResumePoint(status: 206, contentRange: "bytes */5000") == nil)
    }
}
