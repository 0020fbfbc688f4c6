import Testing
@testable import BlobServer

@Suite struct MultipartByterangesTests {
    /// A blob whose every byte differs from its neighbours', so a misplaced slice shows.
    static func blob(size: Int) -> [UInt8] {
        (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 8 &+ 3) }
    }

    /// Builds the body the way the connection will: literals written, blob ranges "sendfile'd".
    static func assemble(_ plan: MultipartByteranges, blob: [UInt8]) -> [UInt8] {
        var body: [UInt8] = []
        for part in plan.parts {
            switch part {
            case .literal(let bytes): body += bytes
            case .blob(let range): body += blob[Int(range.first)...Int(range.last)]
            }
        }
        return body
    }

    /// Splits a body at `\r\n--boundary` and reads each part's `Content-Range` and bytes.
    static func parse(_ body: [UInt8], boundary: String) -> (parts: [(contentRange: String, contentType: String?, bytes: [UInt8])], closed: Bool) {
        let delimiter = Array("\r\n--\(boundary)".utf8)
        var pieces: [ArraySlice<UInt8>] = []
        var start = 0
        var index = 0
        while index + delimiter.count <= body.count {
            if body[index..<index + delimiter.count].elementsEqual(delimiter) {
                pieces.append(body[start..<index])
                index += delimiter.count
                start = index
            } else {
                index += 1
            }
        }
        let epilogue = Array(body[start...])
        var parts: [(String, String?, [UInt8])] = []
        for piece in pieces.dropFirst() {
            let text = Array(piece)
            let separator = Array("\r\n\r\n".utf8)
            guard let end = (0...(text.count - separator.count)).first(where: { text[$0..<$0 + separator.count].elementsEqual(separator) }) else {
                continue
            }
            let headers = String(decoding: text[2..<end], as: UTF8.self).split(separator: "\r\n")
            func field(_ name: String) -> String? {
                headers.first { $0.hasPrefix(name + ": ") }.map { String($0.dropFirst(name.count + 2)) }
            }
            parts.append((field("Content-Range") ?? "", field("Content-Type"), Array(text[(end + separator.count)...])))
        }
        return (parts, pieces.first?.isEmpty == true && epilogue == Array("--\r\n".utf8))
    }

    struct Example: Sendable, CustomTestStringConvertible {
        let ranges: [ByteRange]
        let size: UInt64
        let contentType: String?
        var testDescription: String { "ranges \(ranges) of \(size) bytes, Content-Type \(contentType ?? "none")" }
    }

    static let examples: [Example] = [
        .init(ranges: [.init(first: 0, last: 1), .init(first: 4, last: 5)], size: 8, contentType: "application/octet-stream"),
        .init(ranges: [.init(first: 200, last: 299), .init(first: 0, last: 99)], size: 2048, contentType: "application/octet-stream"),
        .init(ranges: [.init(first: 2047, last: 2047), .init(first: 0, last: 0)], size: 2048, contentType: nil),
        .init(ranges: [.init(first: 0, last: 65_535)], size: 65_536, contentType: "application/vnd.oci.image.layer.v1.tar+gzip"),
        .init(ranges: (0..<100).map { .init(first: UInt64(2 * $0), last: UInt64(2 * $0)) }, size: 200, contentType: "text/plain; charset=utf-8"),
        .init(ranges: [.init(first: 9_999, last: 9_999), .init(first: 1, last: 9_000)], size: 10_000, contentType: "x/y"),
    ]

    static let boundary = "blobcache-00000000000000a7"

    @Test(arguments: examples)
    func contentLengthIsTheAssembledBodysByteCount(_ example: Example) throws {
        let plan = try MultipartByteranges(ranges: example.ranges, size: example.size, contentType: example.contentType, boundary: Self.boundary)
        let body = Self.assemble(plan, blob: Self.blob(size: Int(example.size)))
        #expect(plan.contentLength == UInt64(body.count))
    }

    @Test(arguments: examples)
    func partsReadBackAsTheRequestedSlicesInOrder(_ example: Example) throws {
        let blob = Self.blob(size: Int(example.size))
        let plan = try MultipartByteranges(ranges: example.ranges, size: example.size, contentType: example.contentType, boundary: Self.boundary)
        let parsed = Self.parse(Self.assemble(plan, blob: blob), boundary: Self.boundary)
        #expect(parsed.closed)
        try #require(parsed.parts.count == example.ranges.count)
        for (part, range) in zip(parsed.parts, example.ranges) {
            #expect(part.contentRange == "bytes \(range.first)-\(range.last)/\(example.size)")
            #expect(part.contentType == example.contentType)
            #expect(part.bytes == Array(blob[Int(range.first)...Int(range.last)]))
        }
    }

    @Test func theBodyIsExactlyTheDelimitedPartsAndTheCloseDelimiter() throws {
        let plan = try MultipartByteranges(
            ranges: [.init(first: 0, last: 1), .init(first: 4, last: 5)], size: 8, contentType: "application/octet-stream", boundary: "B")
        let body = Self.assemble(plan, blob: Array("abcdefgh".utf8))
        let expected = "\r\n--B\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 0-1/8\r\n\r\nab"
            + "\r\n--B\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 4-5/8\r\n\r\nef"
            + "\r\n--B--\r\n"
        #expect(String(decoding: body, as: UTF8.self) == expected)
        #expect(plan.contentType == "multipart/byteranges; boundary=B")
        #expect(plan.parts.map { if case .blob = $0 { "blob" } else { "literal" } } == ["literal", "blob", "literal", "blob", "literal"])
    }

    @Test(arguments: [
        ("blobcache-1", "multipart/byteranges; boundary=blobcache-1"),
        ("a:b", "multipart/byteranges; boundary=\"a:b\""),
        ("with space", "multipart/byteranges; boundary=\"with space\""),
        ("'()+_,-./=?", "multipart/byteranges; boundary=\"'()+_,-./=?\""),
        ("'+_-.", "multipart/byteranges; boundary='+_-."),
    ])
    func theBoundaryIsQuotedOnlyWhenItIsNotAToken(boundary: String, contentType: String) throws {
        let plan = try MultipartByteranges(ranges: [.init(first: 0, last: 0)], size: 1, contentType: nil, boundary: boundary)
        #expect(plan.contentType == contentType)
    }

    @Test(arguments: [
        ("a", true), (String(repeating: "x", count: 70), true), ("inner space", true), ("0123456789:=?", true),
        ("", false), (String(repeating: "x", count: 71), false), ("trailing ", false), ("semi;colon", false),
        ("quo\"te", false), ("cr\r\nlf", false), ("nul\0", false), ("tab\t", false), ("é", false), ("star*", false),
    ])
    func boundariesFollowRFC2046(boundary: String, isValid: Bool) {
        #expect(MultipartByteranges.isValidBoundary(boundary) == isValid)
        let plan = { () throws(MultipartByteranges.PlanError) in
            try MultipartByteranges(ranges: [.init(first: 0, last: 0)], size: 1, contentType: nil, boundary: boundary)
        }
        if isValid {
            #expect(throws: Never.self) { try plan() }
        } else {
            #expect(throws: MultipartByteranges.PlanError.invalidBoundary) { try plan() }
        }
    }

    @Test(arguments: ["", "text/plain\r\nX-Injected: 1", "text/plain\n", "a\0b", "caf\u{E9}"])
    func contentTypesThatCouldSplitAPartHeaderAreRefused(contentType: String) {
        #expect(throws: MultipartByteranges.PlanError.invalidContentType) {
            try MultipartByteranges(ranges: [.init(first: 0, last: 0)], size: 1, contentType: contentType, boundary: "B")
        }
    }
}
