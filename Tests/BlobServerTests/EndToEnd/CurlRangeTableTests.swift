import BlobStore
import Glibc
import Testing
import TestSupport

extension EndToEnd {
    /// curl against a real `blobcache serve`: a blob PUT through the plain CAS API, then the
    /// RFC 9110 range table, HEAD, conditional requests and multipart ranges, on both the CAS
    /// route and the OCI blob route.
    @Suite("EndToEnd: curl ranges, HEAD and conditionals")
    struct CurlRangeTableTests {
        /// A server holding one 2048-byte blob, put there by curl.
        final class Fixture {
            let directory = StoreTestDirectory("e2e-curl")
            let server: ServerProcess
            let curl: Curl
            let bytes = pseudoRandomBytes(count: 2048, seed: 0xC0FFEE)
            let digest: Digest

            init() throws {
                curl = try Curl(directory: directory.path)
                server = try ServerProcess(dataDirectory: directory.data)
                digest = Digest.of(bytes)
                let file = directory.file("blob")
                try Files.write(bytes, to: file)
                let put = try curl.request("\(server.baseURL)/blobs/\(digest)", ["-X", "PUT", "--data-binary", "@\(file)"])
                guard put.status == 201 else { throw EndToEndFailure("PUT of the blob answered \(put.status): \(put.text)") }
            }

            func url(_ route: String) -> String {
                route == "cas" ? "\(server.baseURL)/blobs/\(digest)" : "\(server.baseURL)/v2/test/repo/blobs/\(digest)"
            }
        }

        struct RangeCase: CustomStringConvertible {
            let range: String
            let status: Int
            /// The expected body's bytes of the 2048-byte blob; nil for a 416.
            let slice: ClosedRange<Int>?
            let contentRange: String
            var description: String { "\(range) → \(status) \(contentRange)" }
        }

        static let rangeTable: [RangeCase] = [
            RangeCase(range: "bytes=500-1499", status: 206, slice: 500...1499, contentRange: "bytes 500-1499/2048"),
            RangeCase(range: "bytes=500-", status: 206, slice: 500...2047, contentRange: "bytes 500-2047/2048"),
            RangeCase(range: "bytes=-500", status: 206, slice: 1548...2047, contentRange: "bytes 1548-2047/2048"),
            RangeCase(range: "bytes=2000-5000", status: 206, slice: 2000...2047, contentRange: "bytes 2000-2047/2048"),
            RangeCase(range: "bytes=0-0", status: 206, slice: 0...0, contentRange: "bytes 0-0/2048"),
            RangeCase(range: "bytes=500-0", status: 416, slice: nil, contentRange: "bytes */2048"),
            RangeCase(range: "bytes=5000-10000", status: 416, slice: nil, contentRange: "bytes */2048"),
            RangeCase(range: "bytes=2048-", status: 416, slice: nil, contentRange: "bytes */2048"),
        ]

        @Test("the range table over curl", arguments: ["cas", "oci"])
        func rangeRequestsAnswerTheRFC9110Table(route: String) throws {
            let fixture = try Fixture()
            let whole = try fixture.curl.request(fixture.url(route))
            #expect(whole.status == 200)
            #expect(whole.body == fixture.bytes, "the whole blob came back different")

            for example in Self.rangeTable {
                // -H rather than curl's --range, so the header goes out exactly as written.
                let reply = try fixture.curl.request(fixture.url(route), ["-H", "Range: \(example.range)"])
                #expect(reply.status == example.status, "\(route) \(example)")
                #expect(reply.header("Content-Range") == example.contentRange, "\(route) \(example)")
                if let slice = example.slice {
                    #expect(reply.body == Array(fixture.bytes[slice]), "\(route) \(example): \(reply.body.count) bytes")
                    #expect(reply.header("Content-Length") == String(slice.count), "\(route) \(example)")
                }
            }
        }

        @Test("HEAD, ETag, If-None-Match and If-Range over curl", arguments: ["cas", "oci"])
        func headAndConditionalRequests(route: String) throws {
            let fixture = try Fixture()
            let url = fixture.url(route)
            let head = try fixture.curl.request(url, ["-I"])
            #expect(head.status == 200)
            #expect(head.header("Content-Length") == "2048")
            #expect(head.header("ETag") == "\"\(fixture.digest)\"")
            #expect(head.header("Docker-Content-Digest") == fixture.digest.description)
            #expect(head.header("Accept-Ranges") == "bytes")

            let notModified = try fixture.curl.request(url, ["-H", "If-None-Match: \"\(fixture.digest)\""])
            #expect(notModified.status == 304)
            #expect(notModified.body.isEmpty)
            let otherTag = try fixture.curl.request(url, ["-H", "If-None-Match: \"sha256:\(String(repeating: "0", count: 64))\""])
            #expect(otherTag.status == 200)
            #expect(otherTag.body == fixture.bytes)

            let ifRangeMatches = try fixture.curl.request(url, ["-H", "Range: bytes=0-99", "-H", "If-Range: \"\(fixture.digest)\""])
            #expect(ifRangeMatches.status == 206)
            #expect(ifRangeMatches.body == Array(fixture.bytes[0...99]))
            let ifRangeStale = try fixture.curl.request(url, ["-H", "Range: bytes=0-99", "-H", "If-Range: \"sha256:stale\""])
            #expect(ifRangeStale.status == 200, "a stale If-Range must give the whole blob")
            #expect(ifRangeStale.body == fixture.bytes)
        }

        @Test("multiple ranges come back as multipart/byteranges", arguments: ["cas", "oci"])
        func multipleRangesAreMultipart(route: String) throws {
            let fixture = try Fixture()
            let reply = try fixture.curl.request(fixture.url(route), ["-H", "Range: bytes=0-9,1000-1019,-5"])
            #expect(reply.status == 206)
            let contentType = reply.header("Content-Type") ?? ""
            #expect(contentType.hasPrefix("multipart/byteranges; boundary="), "Content-Type: \(contentType)")
            let boundary = String(contentType.drop { $0 != "=" }.dropFirst())
            let parts = Self.multipartParts(reply.body, boundary: boundary)
            #expect(parts.map(\.contentRange) == ["bytes 0-9/2048", "bytes 1000-1019/2048", "bytes 2043-2047/2048"])
            #expect(parts.map(\.body) == [Array(fixture.bytes[0...9]), Array(fixture.bytes[1000...1019]), Array(fixture.bytes[2043...2047])])
            #expect(reply.header("Content-Length") == String(reply.body.count))
        }

        @Test func absentBlobIs404WithAnOCIErrorOverCurl() throws {
            let fixture = try Fixture()
            let absent = Digest.of(Array("not stored".utf8))
            let cas = try fixture.curl.request("\(fixture.server.baseURL)/blobs/\(absent)")
            #expect(cas.status == 404)
            #expect(cas.text.contains("BLOB_UNKNOWN"))
            let oci = try fixture.curl.request("\(fixture.server.baseURL)/v2/test/repo/blobs/\(absent)")
            #expect(oci.status == 404)
            #expect(oci.text.contains("BLOB_UNKNOWN"))
        }

        @Test func aPutWhoseBodyDoesNotMatchItsDigestIs400AndStoresNothing() throws {
            let fixture = try Fixture()
            let claimed = Digest.of(Array("what the client claims".utf8))
            let file = fixture.directory.file("other")
            try Files.write(Array("something else entirely".utf8), to: file)
            let before = Files.storedBlobs(in: fixture.directory.data)
            let put = try fixture.curl.request("\(fixture.server.baseURL)/blobs/\(claimed)", ["-X", "PUT", "--data-binary", "@\(file)"])
            #expect(put.status == 400)
            #expect(put.text.contains("DIGEST_INVALID"), "body: \(put.text)")
            #expect(try fixture.curl.request("\(fixture.server.baseURL)/blobs/\(claimed)").status == 404)
            #expect(Files.storedBlobs(in: fixture.directory.data) == before)
        }

        /// The parts of a multipart/byteranges body: each part's Content-Range and bytes.
        static func multipartParts(_ body: [UInt8], boundary: String) -> [(contentRange: String, body: [UInt8])] {
            let delimiter = Array("\r\n--\(boundary)".utf8)
            // The body starts with "--boundary" (no CRLF before it); pretend it had one.
            let text = Array("\r\n".utf8) + body
            var starts: [Int] = []
            var index = 0
            while index + delimiter.count <= text.count {
                if text[index] == delimiter[0], Array(text[index..<index + delimiter.count]) == delimiter {
                    starts.append(index)
                    index += delimiter.count
                } else {
                    index += 1
                }
            }
            var parts: [(String, [UInt8])] = []
            for (position, start) in starts.enumerated().dropLast() {
                let partStart = start + delimiter.count + 2  // past the CRLF after the boundary
                let partEnd = starts[position + 1]
                guard partStart < partEnd else { continue }
                let part = Array(text[partStart..<partEnd])
                guard let headEnd = firstIndex(of: Array("\r\n\r\n".utf8), in: part) else { continue }
                let head = String(decoding: part[..<headEnd], as: UTF8.self)
                let range = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-range:") }
                let value = range.map { String($0.dropFirst("content-range:".count)).trimmingCharacters() } ?? ""
                parts.append((value, Array(part[(headEnd + 4)...])))
            }
            return parts
        }
    }
}
