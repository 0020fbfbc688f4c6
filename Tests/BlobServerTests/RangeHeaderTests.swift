import Testing
@testable import BlobServer

@Suite struct RangeHeaderTests {
    struct Example: Sendable, CustomTestStringConvertible {
        let value: String
        let parsed: RangeHeader
        var testDescription: String { "Range: \(value.debugDescription) parses as \(parsed)" }
    }

    static let max = UInt64.max

    static let wellFormed: [Example] = [
        .init(value: "bytes=500-1499", parsed: .single(.closed(first: 500, last: 1499))),
        .init(value: "bytes=500-", parsed: .single(.from(first: 500))),
        .init(value: "bytes=-500", parsed: .single(.suffix(length: 500))),
        .init(value: "bytes=5-5", parsed: .single(.closed(first: 5, last: 5))),
        .init(value: "bytes=-0", parsed: .single(.suffix(length: 0))),
        .init(value: "bytes=007-010", parsed: .single(.closed(first: 7, last: 10))),
        .init(value: "BYTES=0-1", parsed: .single(.closed(first: 0, last: 1))),
        .init(value: "Bytes=0-1", parsed: .single(.closed(first: 0, last: 1))),
        .init(value: " bytes=0-1 ", parsed: .single(.closed(first: 0, last: 1))),
        .init(value: "\tbytes=0-1\t", parsed: .single(.closed(first: 0, last: 1))),
        .init(value: "bytes=0-1,2-3", parsed: .multiple([.closed(first: 0, last: 1), .closed(first: 2, last: 3)])),
        .init(value: "bytes=0-1 , 2-3", parsed: .multiple([.closed(first: 0, last: 1), .closed(first: 2, last: 3)])),
        .init(value: "bytes=0-1,\t-3", parsed: .multiple([.closed(first: 0, last: 1), .suffix(length: 3)])),
        .init(value: "bytes=9-,0-1", parsed: .multiple([.from(first: 9), .closed(first: 0, last: 1)])),
        .init(value: "bytes=0-1,,2-3", parsed: .multiple([.closed(first: 0, last: 1), .closed(first: 2, last: 3)])),
        .init(value: "bytes=,0-1", parsed: .single(.closed(first: 0, last: 1))),
        .init(value: "bytes=0-1,", parsed: .single(.closed(first: 0, last: 1))),
        .init(value: "bytes=, ,0-1, ,", parsed: .single(.closed(first: 0, last: 1))),
        .init(value: "bytes=0-18446744073709551615", parsed: .single(.closed(first: 0, last: max))),
        .init(value: "bytes=0-99999999999999999999999", parsed: .single(.closed(first: 0, last: max))),
        .init(value: "bytes=99999999999999999999-", parsed: .single(.from(first: max))),
        .init(value: "bytes=-99999999999999999999", parsed: .single(.suffix(length: max))),
    ]

    static let lastBeforeFirst: [Example] = [
        .init(value: "bytes=500-0", parsed: .invalid),
        .init(value: "bytes=5-2", parsed: .invalid),
        .init(value: "bytes=0-1,5-2", parsed: .invalid),
        .init(value: "bytes=5-2,0-1", parsed: .invalid),
        .init(value: "bytes=99999999999999999999-5", parsed: .invalid),
    ]

    static let malformed: [Example] = [
        "", " ", "bytes", "=0-1", "bytes=", "bytes= ", "bytes=,", "bytes=,,", "bytes=abc", "bytes=--5",
        "bytes=-", "bytes=-,0-1", "bytes=1-2x", "bytes=1 -2", "bytes=1- 2", "bytes=0-1 2-3", "bytes=0-1;2-3",
        "bytes=+1-2", "bytes=-+1", "bytes=0x10-20", "bytes=1.5-2", "bytes=0--1", "bytes=5-2,abc",
        "bytes=0-1\0", "bytes=0\0-1", "bytes=0-1\r\n", "bytes=0\n-1", "bytes=0-1\r", "bytes=\u{7F}0-1",
        "bytes=0-1\u{A0}",
    ].map { Example(value: $0, parsed: .ignored(.malformed)) }

    static let otherUnits: [Example] = [
        "items=0-1", "none=0-1", "byte=0-1", "bytesx=0-1", "xbytes=0-1", "bytes =0-1", "bytes\0=0-1", "bytés=0-1",
    ].map { Example(value: $0, parsed: .ignored(.unsupportedUnit)) }

    @Test(arguments: wellFormed + lastBeforeFirst + malformed + otherUnits)
    func parsesEveryExample(_ example: Example) {
        #expect(RangeHeader(parsing: example.value) == example.parsed)
    }

    @Test(arguments: wellFormed + lastBeforeFirst + malformed + otherUnits)
    func rawBytesAndSubstringsParseLikeStrings(_ example: Example) {
        let bytes = Array(example.value.utf8)
        #expect(bytes.withUnsafeBytes { RangeHeader(parsing: $0) } == example.parsed)
        let padded = "[" + example.value + "]"
        #expect(RangeHeader(parsing: padded.dropFirst().dropLast()) == example.parsed)
    }

    static func list(_ count: Int, _ element: (Int) -> String = { "\($0)-\($0)" }) -> String {
        "bytes=" + (0..<count).map(element).joined(separator: ",")
    }

    @Test func exactlyTheCapOfRangesIsAccepted() {
        let parsed = RangeHeader(parsing: Self.list(RangeHeader.maxRanges))
        guard case .multiple(let specs) = parsed else {
            Issue.record("expected \(RangeHeader.maxRanges) ranges, got \(parsed)")
            return
        }
        #expect(specs.count == RangeHeader.maxRanges)
        #expect(specs.last == .closed(first: 99, last: 99))
    }

    @Test(arguments: [RangeHeader.maxRanges + 1, 1_000, 10_000])
    func moreRangesThanTheCapAreIgnored(count: Int) {
        #expect(RangeHeader(parsing: Self.list(count)) == .ignored(.tooManyRanges))
    }

    @Test func parsingStopsAtTheRangePastTheCap() {
        // Garbage as element 101 or later is never read: the cap answers first.
        #expect(RangeHeader(parsing: Self.list(RangeHeader.maxRanges) + ",garbage") == .ignored(.tooManyRanges))
        #expect(RangeHeader(parsing: Self.list(RangeHeader.maxRanges - 1) + ",garbage") == .ignored(.malformed))
    }

    @Test func emptyElementsDoNotCountTowardsTheCap() {
        let value = Self.list(RangeHeader.maxRanges) { "\($0)-\($0),, ," }
        guard case .multiple(let specs) = RangeHeader(parsing: value) else {
            Issue.record("expected ranges")
            return
        }
        #expect(specs.count == RangeHeader.maxRanges)
    }

    @Test func tenThousandOverlappingRangesAreIgnored() {
        #expect(RangeHeader(parsing: Self.list(10_000) { _ in "0-" }) == .ignored(.tooManyRanges))
    }

    @Test(arguments: [1, 100, 10_000])
    func hugeNumbersSaturateWithoutTrapping(digits: Int) {
        let huge = String(repeating: "9", count: digits)
        let expected: UInt64 = digits < 20 ? UInt64(huge)! : .max
        #expect(RangeHeader(parsing: "bytes=0-\(huge)") == .single(.closed(first: 0, last: expected)))
        #expect(RangeHeader(parsing: "bytes=-\(huge)") == .single(.suffix(length: expected)))
    }
}
