import Testing
@testable import BlobServer

@Suite struct ByteRangeResolutionTests {
    struct Example: Sendable, CustomTestStringConvertible {
        let header: String?
        let size: UInt64
        /// The status, then `Content-Range` for 206 and 416, then the parts of a multipart 206.
        let response: String
        var testDescription: String { "\(header ?? "no Range") on \(size) bytes answers \(response)" }
    }

    /// Renders a resolution as the response line a client would see.
    static func response(_ resolution: ByteRangeResolution, size: UInt64) -> String {
        switch resolution {
        case .full: "200"
        case .single(let range): "206 \(ContentRange.bytes(range, completeLength: size))"
        case .multiple(let ranges): "206 multipart " + ranges.map(\.description).joined(separator: ",")
        case .unsatisfiable: "416 \(ContentRange.unsatisfied(completeLength: size))"
        }
    }

    static let twoKiB: [Example] = [
        .init(header: nil, size: 2048, response: "200"),
        .init(header: "bytes=500-1499", size: 2048, response: "206 bytes 500-1499/2048"),
        .init(header: "bytes=500-", size: 2048, response: "206 bytes 500-2047/2048"),
        .init(header: "bytes=-500", size: 2048, response: "206 bytes 1548-2047/2048"),
        .init(header: "bytes=2000-5000", size: 2048, response: "206 bytes 2000-2047/2048"),
        .init(header: "bytes=500-0", size: 2048, response: "416 bytes */2048"),
        .init(header: "bytes=5000-10000", size: 2048, response: "416 bytes */2048"),
        .init(header: "bytes=0-0", size: 2048, response: "206 bytes 0-0/2048"),
        .init(header: "bytes=2047-", size: 2048, response: "206 bytes 2047-2047/2048"),
        .init(header: "bytes=2048-", size: 2048, response: "416 bytes */2048"),
        .init(header: "bytes=-0", size: 2048, response: "416 bytes */2048"),
        .init(header: "bytes=-5000", size: 2048, response: "206 bytes 0-2047/2048"),
        .init(header: "bytes=0-18446744073709551615", size: 2048, response: "206 bytes 0-2047/2048"),
        .init(header: "bytes=0-99999999999999999999", size: 2048, response: "206 bytes 0-2047/2048"),
        .init(header: "bytes=99999999999999999999-", size: 2048, response: "416 bytes */2048"),
        .init(header: "bytes=abc", size: 2048, response: "200"),
        .init(header: "items=0-1", size: 2048, response: "200"),
        .init(header: "bytes=", size: 2048, response: "200"),
        .init(header: "bytes=5000-,0-9", size: 2048, response: "206 bytes 0-9/2048"),
        .init(header: "bytes=5000-,6000-,-0", size: 2048, response: "416 bytes */2048"),
        .init(header: "bytes=0-9,500-0", size: 2048, response: "416 bytes */2048"),
        .init(header: "bytes=0-99,200-299", size: 2048, response: "206 multipart 0-99,200-299"),
        .init(header: "bytes=200-299,0-99", size: 2048, response: "206 multipart 200-299,0-99"),
        .init(header: "bytes=-1,0-0", size: 2048, response: "206 multipart 2047-2047,0-0"),
        .init(header: "bytes=0-99,50-149", size: 2048, response: "206 bytes 0-149/2048"),
        .init(header: "bytes=0-99,100-199", size: 2048, response: "206 bytes 0-199/2048"),
        .init(header: "bytes=0-99,0-99", size: 2048, response: "206 bytes 0-99/2048"),
        .init(header: "bytes=-100,1900-", size: 2048, response: "206 bytes 1900-2047/2048"),
        .init(header: "bytes=500-599,0-9,505-510", size: 2048, response: "206 multipart 0-9,500-599"),
        .init(header: "bytes=0-9,20-29,5-24", size: 2048, response: "206 bytes 0-29/2048"),
    ]

    static let edgeSizes: [Example] = [
        .init(header: "bytes=0-", size: 0, response: "416 bytes */0"),
        .init(header: "bytes=0-0", size: 0, response: "416 bytes */0"),
        .init(header: "bytes=-0", size: 0, response: "416 bytes */0"),
        .init(header: "bytes=500-0", size: 0, response: "416 bytes */0"),
        .init(header: "bytes=-5", size: 0, response: "200"),
        .init(header: "bytes=0-1,-1", size: 0, response: "200"),
        .init(header: "bytes=abc", size: 0, response: "200"),
        .init(header: "bytes=-5", size: 1, response: "206 bytes 0-0/1"),
        .init(header: "bytes=0-", size: 1, response: "206 bytes 0-0/1"),
        .init(header: "bytes=1-", size: 1, response: "416 bytes */1"),
        .init(header: "bytes=0-", size: .max, response: "206 bytes 0-18446744073709551614/18446744073709551615"),
    ]

    @Test(arguments: twoKiB + edgeSizes)
    func resolvesEveryExample(_ example: Example) {
        let header = example.header.map { RangeHeader(parsing: $0) }
        #expect(Self.response(ByteRangeResolution(header, size: example.size), size: example.size) == example.response)
    }

    @Test func aHundredRangesOfOneByteEachMergeIntoOne() {
        let header = RangeHeader(parsing: RangeHeaderTests.list(RangeHeader.maxRanges) { _ in "0-0" })
        #expect(ByteRangeResolution(header, size: 2048) == .single(ByteRange(first: 0, last: 0)))
    }

    @Test func aHundredDisjointRangesStayAHundredParts() {
        let header = RangeHeader(parsing: RangeHeaderTests.list(RangeHeader.maxRanges) { "\(2 * $0)-\(2 * $0)" })
        guard case .multiple(let ranges) = ByteRangeResolution(header, size: 2048) else {
            Issue.record("expected multipart")
            return
        }
        #expect(ranges.count == RangeHeader.maxRanges)
    }

    @Test func coalescedRangesNeverSendAByteTwice() {
        // A deterministic walk over many overlapping lists: merged parts are disjoint, apart by
        // at least one byte, and cover exactly the requested bytes.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ bound: UInt64) -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (state >> 33) % bound
        }
        for _ in 0..<500 {
            let size = 1 + next(300)
            let ranges = (0..<(2 + next(12))).map { _ in
                let first = next(size)
                return ByteRange(first: first, last: first + next(size - first))
            }
            let merged = ByteRangeResolution.coalesced(ranges)
            var requested = Set<UInt64>()
            for range in ranges { requested.formUnion(range.first...range.last) }
            var sent: [UInt64] = []
            for range in merged { sent.append(contentsOf: range.first...range.last) }
            #expect(sent.count == requested.count)
            #expect(Set(sent) == requested)
            let ascending = merged.sorted { $0.first < $1.first }
            #expect(zip(ascending, ascending.dropFirst()).allSatisfy { $0.last + 1 < $1.first })
        }
    }
}
