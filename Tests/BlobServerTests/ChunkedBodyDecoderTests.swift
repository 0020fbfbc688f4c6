import Testing
@testable import BlobServer

@Suite struct ChunkedBodyDecoderTests {
    /// What a connection ends up with after feeding a chunked body: the body bytes, and
    /// either the bytes the body used, an error, or nil when it needs more.
    struct Outcome: Equatable, CustomStringConvertible {
        var body: [UInt8] = []
        var consumed: Int?
        var error: ChunkedBodyError?
        var bodyBytes: UInt64 = 0

        var description: String {
            "body \"\(String(decoding: body, as: UTF8.self))\", consumed \(consumed.map(String.init) ?? "-"), error \(error.map { "\($0)" } ?? "-")"
        }
    }

    struct Limits: Sendable {
        var maxBodyBytes: UInt64 = .max
        var maxExtensionBytes = 4096
        var maxTrailerBytes = 16 * 1024
    }

    /// Feeds `bytes` as a connection does, one piece at a time, consuming what each event says.
    static func decode(_ bytes: [UInt8], piecesEndingAt ends: [Int], limits: Limits) -> Outcome {
        var decoder = ChunkedBodyDecoder(
            maxBodyBytes: limits.maxBodyBytes, maxExtensionBytes: limits.maxExtensionBytes,
            maxTrailerBytes: limits.maxTrailerBytes)
        var outcome = Outcome()
        var start = 0
        for end in ends {
            pieces: while true {
                let event = bytes.withUnsafeBytes { decoder.decode(UnsafeRawBufferPointer(rebasing: $0[start..<end])) }
                switch event {
                case .data(let range):
                    #expect(!range.isEmpty && range.upperBound <= end - start)
                    outcome.body += bytes[(start + range.lowerBound)..<(start + range.upperBound)]
                    start += range.upperBound
                case .needMore:
                    start = end
                    break pieces
                case .end(let consumed):
                    #expect(consumed <= end - start)
                    outcome.consumed = start + consumed
                    outcome.bodyBytes = decoder.bodyBytes
                    return outcome
                case .error(let error):
                    outcome.error = error
                    return outcome
                }
            }
        }
        return outcome
    }

    /// The outcome of decoding `text` whole, after checking every other way of cutting it
    /// gives the same.
    static func outcome(_ text: String, limits: Limits = Limits()) -> Outcome {
        let bytes = Array(text.utf8)
        let whole = decode(bytes, piecesEndingAt: [bytes.count], limits: limits)
        for plan in HTTPTestFeeding.plans(count: bytes.count) {
            #expect(decode(bytes, piecesEndingAt: plan, limits: limits) == whole, "pieces ending at \(plan)")
        }
        return whole
    }

    struct Valid: Sendable, CustomTestStringConvertible {
        let name: String
        let encoded: String
        let body: String
        var testDescription: String { name }
    }

    static let valid: [Valid] = [
        .init(name: "one chunk", encoded: "5\r\nhello\r\n0\r\n\r\n", body: "hello"),
        .init(name: "two chunks", encoded: "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", body: "hello world"),
        .init(name: "an empty body", encoded: "0\r\n\r\n", body: ""),
        .init(name: "uppercase hex", encoded: "A\r\n0123456789\r\n0\r\n\r\n", body: "0123456789"),
        .init(name: "lowercase hex", encoded: "a\r\n0123456789\r\n0\r\n\r\n", body: "0123456789"),
        .init(name: "leading zeros", encoded: "0005\r\nhello\r\n0000\r\n\r\n", body: "hello"),
        .init(name: "extensions", encoded: "5;name=value\r\nhello\r\n0;last;q=\"a b\"\r\n\r\n", body: "hello"),
        .init(name: "whitespace before an extension", encoded: "5 \t;a=b\r\nhello\r\n0 \r\n\r\n", body: "hello"),
        .init(name: "trailers", encoded: "3\r\nabc\r\n0\r\nX-Checksum: abc\r\nY:\tz\r\n\r\n", body: "abc"),
        .init(name: "CRLF inside chunk data", encoded: "4\r\n\r\n\r\n\r\n0\r\n\r\n", body: "\r\n\r\n"),
    ]

    @Test(arguments: valid)
    func aValidBodyDecodesTheSameHoweverItArrives(_ valid: Valid) {
        let outcome = Self.outcome(valid.encoded)
        #expect(outcome.body == Array(valid.body.utf8))
        #expect(outcome.consumed == valid.encoded.utf8.count)
        #expect(outcome.error == nil)
        #expect(outcome.bodyBytes == UInt64(valid.body.utf8.count))
    }

    @Test func theBodyEndsBeforeTheNextPipelinedRequest() {
        let body = "5\r\nhello\r\n0\r\n\r\n"
        let outcome = Self.outcome(body + "GET / HTTP/1.1\r\n")
        #expect(outcome.body == Array("hello".utf8))
        #expect(outcome.consumed == body.utf8.count)
    }

    @Test(arguments: ["5", "5\r\nhel", "5\r\nhello", "5\r\nhello\r\n", "5\r\nhello\r\n0\r\n", "0\r\nX: y\r\n", "0\r\n\r"])
    func anUnfinishedBodyNeedsMore(_ prefix: String) {
        let outcome = Self.outcome(prefix)
        #expect(outcome.consumed == nil && outcome.error == nil)
    }

    struct Invalid: Sendable, CustomTestStringConvertible {
        let name: String
        let encoded: String
        let error: ChunkedBodyError
        var limits = Limits()
        var testDescription: String { "\(name) is \(error)" }
    }

    static let invalid: [Invalid] = [
        .init(name: "a size that is not hex", encoded: "x\r\n", error: .invalidChunkSize),
        .init(name: "an empty size", encoded: "\r\nhello\r\n", error: .invalidChunkSize),
        .init(name: "a signed size", encoded: "-5\r\n", error: .invalidChunkSize),
        .init(name: "an extension without a size", encoded: ";a\r\n", error: .invalidChunkSize),
        .init(name: "text after the size", encoded: "5 x\r\n", error: .invalidChunkSize),
        .init(name: "a hex prefix", encoded: "0x5\r\n", error: .invalidChunkSize),
        .init(name: "a size of 2^63", encoded: "8000000000000000\r\n", error: .chunkSizeOverflow),
        .init(name: "a size over 64 bits", encoded: "10000000000000000\r\n", error: .chunkSizeOverflow),
        .init(name: "data followed by a letter", encoded: "5\r\nhelloX\r\n", error: .missingCRLFAfterData),
        .init(name: "data followed by CR only", encoded: "5\r\nhello\rX", error: .missingCRLFAfterData),
        .init(name: "data followed by LF only", encoded: "5\r\nhello\n0\r\n\r\n", error: .missingCRLFAfterData),
        .init(name: "a bare LF after the size", encoded: "5\nhello\r\n", error: .invalidLineEnding),
        .init(name: "a bare LF after an extension", encoded: "5;a\nhello\r\n", error: .invalidLineEnding),
        .init(name: "a CR without LF after the size", encoded: "5\rhello", error: .invalidLineEnding),
        .init(name: "a bare LF ending the body", encoded: "0\r\n\n", error: .invalidLineEnding),
        .init(name: "a CR without LF ending the body", encoded: "0\r\n\rX", error: .invalidLineEnding),
        .init(name: "a bare LF after a trailer", encoded: "0\r\nX: y\n\r\n", error: .invalidLineEnding),
        .init(name: "a control character in an extension", encoded: "5;a\u{1}\r\nhello\r\n", error: .invalidChunkExtension),
        .init(name: "NUL in a trailer", encoded: "0\r\nX: \u{0}\r\n\r\n", error: .invalidTrailer),
        .init(
            name: "an extension one over the limit", encoded: "5;123456789\r\nhello\r\n0\r\n\r\n",
            error: .chunkExtensionTooLong, limits: Limits(maxExtensionBytes: 8)),
        .init(
            name: "trailers one over the limit", encoded: "0\r\nX: 0123456789ab\r\n\r\n",
            error: .trailersTooLarge, limits: Limits(maxTrailerBytes: 16)),
        .init(
            name: "a body one over the limit", encoded: "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
            error: .bodyTooLarge, limits: Limits(maxBodyBytes: 10)),
    ]

    @Test(arguments: invalid)
    func anInvalidBodyFailsTheSameHoweverItArrives(_ invalid: Invalid) {
        #expect(Self.outcome(invalid.encoded, limits: invalid.limits).error == invalid.error)
    }

    @Test func limitsAreInclusive() {
        #expect(Self.outcome("5;12345678\r\nhello\r\n0\r\n\r\n", limits: Limits(maxExtensionBytes: 8)).error == nil)
        #expect(Self.outcome("0\r\nX: 0123456789a\r\n\r\n", limits: Limits(maxTrailerBytes: 16)).error == nil)
        let exact = Self.outcome("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", limits: Limits(maxBodyBytes: 11))
        #expect(exact.error == nil && exact.bodyBytes == 11)
    }

    @Test func aBodyTooLargeIsRefusedBeforeItsDataArrives() {
        let outcome = Self.outcome("5\r\nhello\r\n100\r\n", limits: Limits(maxBodyBytes: 200))
        #expect(outcome.error == .bodyTooLarge && outcome.body == Array("hello".utf8))
    }

    @Test func theLargestChunkSizeIsAccepted() {
        let outcome = Self.outcome("7fffffffffffffff\r\nabc")
        #expect(outcome.error == nil && outcome.body == Array("abc".utf8))
    }

    @Test func aFailedDecoderKeepsReturningItsError() {
        var decoder = ChunkedBodyDecoder()
        let bytes = Array("z\r\n0\r\n\r\n".utf8)
        for _ in 0..<2 {
            #expect(bytes.withUnsafeBytes { decoder.decode($0) } == .error(.invalidChunkSize))
        }
    }

    @Test(arguments: [
        (ChunkedBodyError.bodyTooLarge, 413), (.invalidChunkSize, 400), (.chunkSizeOverflow, 400),
        (.missingCRLFAfterData, 400), (.chunkExtensionTooLong, 400), (.invalidChunkExtension, 400),
        (.trailersTooLarge, 400), (.invalidTrailer, 400), (.invalidLineEnding, 400),
    ])
    func eachErrorMapsToItsStatus(_ error: ChunkedBodyError, _ status: Int) {
        #expect(error.status == status)
    }
}
