import Testing
@testable import BlobServer

@Suite struct ConditionalRequestTests {
    static let etag = "\"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\""
    static let other = "\"sha256:0000\""

    struct Example: Sendable, CustomTestStringConvertible {
        var method = "GET"
        var hasRange = false
        var current: String? = ConditionalRequestTests.etag
        var ifMatch: String?
        var ifNoneMatch: String?
        var ifRange: String?
        let outcome: ConditionalRequest.Outcome

        var testDescription: String {
            let fields = [("If-Match", ifMatch), ("If-None-Match", ifNoneMatch), ("If-Range", ifRange)]
                .compactMap { name, value in value.map { "\(name): \($0.debugDescription)" } }
            return "\(method)\(hasRange ? " with Range" : "")\(current == nil ? " of no blob" : "") "
                + fields.joined(separator: ", ") + " is \(outcome)"
        }
    }

    static let ifNoneMatch: [Example] = [
        .init(outcome: .proceed),
        .init(ifNoneMatch: etag, outcome: .notModified),
        .init(method: "HEAD", ifNoneMatch: etag, outcome: .notModified),
        .init(method: "PUT", ifNoneMatch: etag, outcome: .preconditionFailed),
        .init(ifNoneMatch: "W/" + etag, outcome: .notModified),
        .init(ifNoneMatch: other, outcome: .proceed),
        .init(ifNoneMatch: "\(other), \(etag)", outcome: .notModified),
        .init(ifNoneMatch: " \(other)\t,\(etag) ", outcome: .notModified),
        .init(ifNoneMatch: "\(other),,\(etag),", outcome: .notModified),
        .init(ifNoneMatch: "*", outcome: .notModified),
        .init(ifNoneMatch: " * ", outcome: .notModified),
        .init(method: "PUT", current: nil, ifNoneMatch: "*", outcome: .proceed),
        .init(method: "PUT", ifNoneMatch: "*", outcome: .preconditionFailed),
        .init(ifNoneMatch: "", outcome: .proceed),
        .init(ifNoneMatch: "garbage", outcome: .proceed),
        .init(ifNoneMatch: "\"unterminated", outcome: .proceed),
        .init(ifNoneMatch: "\(etag) garbage", outcome: .proceed),
        .init(ifNoneMatch: "*, \(etag)", outcome: .proceed),
        .init(ifNoneMatch: "w/" + etag, outcome: .proceed),
        .init(ifNoneMatch: "W/ " + etag, outcome: .proceed),
        .init(ifNoneMatch: "\"sha256:\0\"", outcome: .proceed),
        .init(ifNoneMatch: "\"sha256:9f86\"", outcome: .proceed),
        .init(ifNoneMatch: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", outcome: .proceed),
    ]

    static let ifMatch: [Example] = [
        .init(method: "PUT", ifMatch: etag, outcome: .proceed),
        .init(method: "DELETE", ifMatch: "\(other), \(etag)", outcome: .proceed),
        .init(method: "DELETE", ifMatch: "*", outcome: .proceed),
        .init(method: "PUT", ifMatch: "W/" + etag, outcome: .preconditionFailed),
        .init(method: "PUT", ifMatch: other, outcome: .preconditionFailed),
        .init(method: "PUT", current: nil, ifMatch: "*", outcome: .preconditionFailed),
        .init(method: "PUT", current: nil, ifMatch: etag, outcome: .preconditionFailed),
        .init(method: "PUT", ifMatch: "garbage", outcome: .preconditionFailed),
        .init(method: "PUT", ifMatch: "", outcome: .preconditionFailed),
        .init(ifMatch: other, ifNoneMatch: other, outcome: .preconditionFailed),
        .init(ifMatch: etag, ifNoneMatch: etag, outcome: .notModified),
    ]

    static let ifRange: [Example] = [
        .init(hasRange: true, ifRange: etag, outcome: .proceed),
        .init(hasRange: true, ifRange: " \(etag) ", outcome: .proceed),
        .init(hasRange: true, ifRange: "W/" + etag, outcome: .ignoreRange),
        .init(hasRange: true, ifRange: other, outcome: .ignoreRange),
        .init(hasRange: true, ifRange: "Wed, 21 Oct 2015 07:28:00 GMT", outcome: .ignoreRange),
        .init(hasRange: true, ifRange: "\(etag), \(etag)", outcome: .ignoreRange),
        .init(hasRange: true, ifRange: "*", outcome: .ignoreRange),
        .init(hasRange: true, ifRange: "", outcome: .ignoreRange),
        .init(hasRange: false, ifRange: other, outcome: .proceed),
        .init(hasRange: true, ifNoneMatch: etag, ifRange: other, outcome: .notModified),
        .init(hasRange: true, outcome: .proceed),
    ]

    static func evaluate(_ example: Example) -> ConditionalRequest.Outcome {
        ConditionalRequest.evaluate(
            isGetOrHead: ["GET", "HEAD"].contains(example.method), hasRange: example.hasRange,
            currentETag: example.current, ifMatch: example.ifMatch, ifNoneMatch: example.ifNoneMatch,
            ifRange: example.ifRange)
    }

    @Test(arguments: ifNoneMatch + ifMatch + ifRange)
    func evaluatesPreconditionsInRFCOrder(_ example: Example) {
        #expect(Self.evaluate(example) == example.outcome)
    }

    @Test(arguments: ifNoneMatch + ifMatch + ifRange)
    func rawBytesEvaluateLikeStrings(_ example: Example) {
        func bytes(_ text: String?) -> [UInt8]? { text.map { Array($0.utf8) } }
        let (current, ifMatch, ifNoneMatch, ifRange) =
            (bytes(example.current), bytes(example.ifMatch), bytes(example.ifNoneMatch), bytes(example.ifRange))
        func with(_ array: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> ConditionalRequest.Outcome) -> ConditionalRequest.Outcome {
            guard let array else { return body(nil) }
            return array.withUnsafeBytes { body($0) }
        }
        let outcome = with(current) { current in
            with(ifMatch) { ifMatch in
                with(ifNoneMatch) { ifNoneMatch in
                    with(ifRange) { ifRange in
                        ConditionalRequest.evaluate(
                            isGetOrHead: ["GET", "HEAD"].contains(example.method), hasRange: example.hasRange,
                            currentETag: current, ifMatch: ifMatch, ifNoneMatch: ifNoneMatch, ifRange: ifRange)
                    }
                }
            }
        }
        #expect(outcome == example.outcome)
    }

    @Test func aLongListOfOtherTagsIsScannedToTheMatchAtItsEnd() {
        let list = Array(repeating: Self.other, count: 10_000).joined(separator: ", ") + ", " + Self.etag
        #expect(ConditionalRequest.evaluate(isGetOrHead: true, hasRange: false, currentETag: Self.etag, ifNoneMatch: list) == .notModified)
    }
}
