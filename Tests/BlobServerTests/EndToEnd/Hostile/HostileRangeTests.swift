import BlobServer
import BlobStore
import Testing

extension EndToEnd {
    /// Range headers built to cost the server: thousands of ranges, overlapping and repeated
    /// ranges, 60 KiB values, numbers past 64 bits. What the server does (RangeHeader,
    /// ByteRangeResolution): more than `RangeHeader.maxRanges` ranges or a malformed value is
    /// ignored (200, the whole blob); overlapping and touching ranges merge, so no byte goes out
    /// twice; `last < first` or nothing satisfiable is 416. So every answer is bounded: 416, the
    /// blob once, or a multipart body of at most `maxRanges` parts of distinct bytes.
    @Suite("EndToEnd: hostile ranges", .serialized)
    struct HostileRangeTests {
        /// What a row must get back.
        enum Expected {
            /// 200 with the whole blob.
            case whole
            /// 206 with one part: these bytes of the blob.
            case single(ClosedRange<Int>)
            /// 206 multipart/byteranges: these ranges, in order.
            case parts([ClosedRange<Int>])
            /// 416 with `Content-Range: bytes */size`.
            case unsatisfiable
        }

        /// Per part, a multipart body adds its delimiter and headers: about 100 bytes.
        static let partOverheadBound = 200

        static func rows(size: Int) -> [(name: String, range: String, expected: Expected)] {
            let many = (0..<5000).map { "\($0 * 2)-\($0 * 2)" }.joined(separator: ",")
            let hundredBytes = (0..<100).map { "\($0 * 2)-\($0 * 2)" }.joined(separator: ",")
            return [
                ("5,000 one-byte ranges", "bytes=" + many, .whole),
                ("5,000 copies of the whole blob", "bytes=" + Array(repeating: "0-\(size - 1)", count: 5000).joined(separator: ","), .whole),
                ("101 ranges, one past the cap", "bytes=" + (0...RangeHeader.maxRanges).map { "\($0 * 2)-\($0 * 2)" }.joined(separator: ","), .whole),
                ("100 copies of the whole blob", "bytes=" + Array(repeating: "0-", count: 100).joined(separator: ","), .single(0...(size - 1))),
                ("100 overlapping ranges", "bytes=" + (0..<100).map { "\($0)-\($0 + 100)" }.joined(separator: ","), .single(0...199)),
                ("100 suffixes", "bytes=" + (1...100).map { "-\($0)" }.joined(separator: ","), .single((size - 100)...(size - 1))),
                ("100 open ranges", "bytes=" + (0..<100).map { "\($0 * 40)-" }.joined(separator: ","), .single(0...(size - 1))),
                ("100 disjoint one-byte ranges", "bytes=" + hundredBytes, .parts((0..<100).map { ($0 * 2)...($0 * 2) })),
                ("a 60 KiB value of 5,000 ranges and spaces", "bytes=" + (0..<5000).map { " \($0 * 2)-\($0 * 2) " }.joined(separator: ","), .whole),
                ("a 60 KiB run of commas", "bytes=0-0," + String(repeating: ",", count: 60_000) + "2-2", .parts([0...0, 2...2])),
                ("60 KiB of spaces before a range", "bytes=" + String(repeating: " ", count: 60_000) + "0-0", .single(0...0)),
                ("a 60 KiB last position", "bytes=0-" + String(repeating: "9", count: 60_000), .single(0...(size - 1))),
                ("a 60 KiB first position", "bytes=" + String(repeating: "9", count: 60_000) + "-", .unsatisfiable),
                ("a 60 KiB suffix", "bytes=-" + String(repeating: "9", count: 60_000), .single(0...(size - 1))),
                ("a first position past 64 bits", "bytes=99999999999999999999999-", .unsatisfiable),
                ("last before first", "bytes=5-1", .unsatisfiable),
                ("last before first among good ranges", "bytes=0-0,5-1,8-9", .unsatisfiable),
                ("a double dash", "bytes=--5", .whole),
                ("another unit", "items=0-0", .whole),
                ("ranges partly past the end", "bytes=0-0,2-2,\(size)-\(size + 1000)", .parts([0...0, 2...2])),
            ]
        }

        @Test func costlyRangesGetABoundedAnswer() throws {
            let fixture = try HostileServer()
            let size = fixture.bytes.count
            for (name, range, expected) in Self.rows(size: size) {
                for target in ["/blobs/\(fixture.digest)", "/v2/a/blobs/\(fixture.digest)"] {
                    let status = switch expected {
                    case .whole: 200
                    case .single, .parts: 206
                    case .unsatisfiable: 416
                    }
                    let row = HostileRow.request("\(name) on \(target.prefix(8))", "GET", target, headers: ["Range: " + range], status: status)
                    guard let answer = fixture.expectAnswered(row) else { continue }
                    #expect(answer.body.count <= size + RangeHeader.maxRanges * Self.partOverheadBound,
                            "\(row): a \(answer.body.count)-byte answer for a \(size)-byte blob")
                    switch expected {
                    case .whole:
                        #expect(answer.body == fixture.bytes, "\(row)")
                    case .single(let range):
                        #expect(answer.header("Content-Range") == "bytes \(range.lowerBound)-\(range.upperBound)/\(size)", "\(row)")
                        #expect(answer.body == Array(fixture.bytes[range]), "\(row)")
                    case .parts(let ranges):
                        Self.expectParts(ranges, in: answer, of: fixture.bytes, row)
                    case .unsatisfiable:
                        #expect(answer.header("Content-Range") == "bytes */\(size)", "\(row)")
                    }
                }
            }
        }

        /// A `multipart/byteranges` body holding exactly `ranges`, each with the blob's bytes.
        static func expectParts(_ ranges: [ClosedRange<Int>], in answer: HostileExchange, of blob: [UInt8], _ row: HostileRow) {
            guard let type = answer.header("Content-Type"), let boundary = type.split(separator: "boundary=").last, type.hasPrefix("multipart/byteranges") else {
                Issue.record("\(row): not multipart: \(answer.headerLines)")
                return
            }
            var rest = answer.body[...]
            var found: [ClosedRange<Int>] = []
            let marker = Array("Content-Range: bytes ".utf8)
            while let start = firstIndex(of: marker, in: Array(rest)).map({ rest.startIndex + $0 + marker.count }) {
                let line = rest[start...].prefix { $0 != 13 }
                let numbers = String(decoding: line, as: UTF8.self).split { $0 == "-" || $0 == "/" }.compactMap { Int($0) }
                guard numbers.count == 3, numbers[0] <= numbers[1] else {
                    Issue.record("\(row): part header \(String(decoding: line, as: UTF8.self))")
                    return
                }
                let range = numbers[0]...numbers[1]
                let data = line.endIndex + 4  // the CRLF ending the line, and the empty line
                guard data + range.count <= rest.endIndex else {
                    Issue.record("\(row): part \(range) is cut short")
                    return
                }
                #expect(Array(rest[data..<(data + range.count)]) == Array(blob[range]), "\(row): part \(range)")
                found.append(range)
                rest = rest[(data + range.count)...]
            }
            #expect(found == ranges, "\(row): parts \(found)")
            #expect(String(decoding: rest, as: UTF8.self) == "\r\n--\(boundary)--\r\n", "\(row): no closing delimiter")
        }
    }
}
