import BlobServer
import BlobStore
import Glibc
import Testing
import TestSupport

extension EndToEnd {
    /// Malicious and malformed requests over raw sockets against a real `blobcache serve`: each
    /// gets the status the parser or router chose (HTTPParseError.status, ChunkedBodyError.status,
    /// the OCI error codes), framing errors close the connection, nothing outside the data
    /// directory is touched, and the server keeps serving normal clients afterwards.
    @Suite("EndToEnd: hostile input", .serialized)
    struct HostileInputTests {
        /// A server holding one small blob, and a canary file next to its data directory.
        final class Fixture {
            let directory = StoreTestDirectory("e2e-hostile")
            let server: ServerProcess
            let bytes = pseudoRandomBytes(count: 4096, seed: 51)
            let digest: Digest
            let canary: String
            let canaryBytes = Array("the canary must stay as it is\n".utf8)

            init() throws {
                canary = directory.file("canary")
                try Files.write(canaryBytes, to: canary)
                server = try ServerProcess(dataDirectory: directory.data)
                digest = Digest.of(bytes)
                let put = try server.request("PUT", "/blobs/\(digest)", body: bytes)
                guard put.status == 201 else { throw EndToEndFailure("PUT answered \(put.status) \(put.text)") }
            }

            /// Still alive, and a plain GET still works on a new connection.
            func expectStillServing(_ comment: Comment? = nil) throws {
                #expect(server.isAlive, "the server process died \(comment.map { "after \($0)" } ?? "")")
                let reply = try server.request("GET", "/blobs/\(digest)")
                #expect(reply.status == 200, comment)
                #expect(reply.body == bytes, comment)
            }

            /// Nothing but the data directory and the canary in the test directory, and the
            /// canary unchanged.
            func expectNothingTouchedOutsideTheDataDirectory() {
                #expect(directoryEntries(directory.path) == ["canary", "data"])
                #expect(Files.read(canary) == canaryBytes)
            }
        }

        struct Malformed: CustomStringConvertible {
            let name: String
            let request: [UInt8]
            let status: Int

            init(_ name: String, _ request: String, _ status: Int) {
                self.name = name
                self.request = Array(request.utf8)
                self.status = status
            }

            init(_ name: String, bytes: [UInt8], _ status: Int) {
                self.name = name
                request = bytes
                self.status = status
            }

            var description: String { name }
        }

        /// Requests whose framing cannot be trusted: answered, then the connection is closed.
        static func framingAttacks(digest: Digest) -> [Malformed] {
            let put = "PUT /blobs/\(digest) HTTP/1.1\r\nHost: x\r\n"
            let get = "GET /blobs/\(digest) HTTP/1.1\r\nHost: x\r\n"
            return [
                Malformed("Content-Length and Transfer-Encoding",
                          put + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                          HTTPParseError.contentLengthWithTransferEncoding.status),
                Malformed("Transfer-Encoding and Content-Length",
                          put + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
                          HTTPParseError.contentLengthWithTransferEncoding.status),
                Malformed("two different Content-Lengths",
                          put + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
                          HTTPParseError.conflictingContentLength.status),
                Malformed("a Content-Length list that disagrees",
                          put + "Content-Length: 5, 6\r\n\r\nhello!",
                          HTTPParseError.conflictingContentLength.status),
                Malformed("Transfer-Encoding: gzip, chunked",
                          put + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
                          HTTPParseError.unsupportedTransferCoding.status),
                Malformed("an unknown coding before chunked",
                          put + "Transfer-Encoding: x-evil, chunked\r\n\r\n0\r\n\r\n",
                          HTTPParseError.unsupportedTransferCoding.status),
                Malformed("a final coding that is not chunked",
                          put + "Transfer-Encoding: gzip\r\n\r\n",
                          HTTPParseError.invalidTransferEncoding.status),
                Malformed("chunked twice",
                          put + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
                          HTTPParseError.invalidTransferEncoding.status),
                Malformed("Transfer-Encoding on HTTP/1.0",
                          "PUT /blobs/\(digest) HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                          HTTPParseError.invalidTransferEncoding.status),
                Malformed("Content-Length with a leading +", put + "Content-Length: +5\r\n\r\nhello",
                          HTTPParseError.invalidContentLength.status),
                Malformed("Content-Length with a space inside", put + "Content-Length: 1 0\r\n\r\nhelloworld",
                          HTTPParseError.invalidContentLength.status),
                Malformed("a negative Content-Length", put + "Content-Length: -1\r\n\r\n",
                          HTTPParseError.invalidContentLength.status),
                Malformed("a hexadecimal Content-Length", put + "Content-Length: 0x10\r\n\r\n",
                          HTTPParseError.invalidContentLength.status),
                Malformed("a Content-Length past 64 bits", put + "Content-Length: 99999999999999999999999\r\n\r\n",
                          HTTPParseError.invalidContentLength.status),
                Malformed("an obs-fold header", get + "X-Folded: a\r\n b\r\n\r\n",
                          HTTPParseError.obsoleteLineFolding.status),
                Malformed("a request line ending in a bare LF", "GET /blobs/\(digest) HTTP/1.1\nHost: x\r\n\r\n",
                          HTTPParseError.bareLineFeed.status),
                Malformed("a header line ending in a bare LF", get + "X-A: b\n\r\n",
                          HTTPParseError.bareLineFeed.status),
                Malformed("whitespace before a header colon", get + "Content-Length : 0\r\n\r\n",
                          HTTPParseError.whitespaceBeforeColon.status),
                Malformed("a NUL in a header value", get + "X-A: a\u{0}b\r\n\r\n",
                          HTTPParseError.nulCharacter.status),
                Malformed("a bare CR in a header value", get + "X-A: a\rb\r\n\r\n",
                          HTTPParseError.bareCarriageReturn.status),
                Malformed("an escape character in a header value", get + "X-A: a\u{1B}[2Jb\r\n\r\n",
                          HTTPParseError.invalidHeaderValue.status),
                Malformed("a header line without a colon", get + "NoColonHere\r\n\r\n",
                          HTTPParseError.missingColon.status),
                Malformed("HTTP/1.1 without Host", "GET /blobs/\(digest) HTTP/1.1\r\n\r\n",
                          HTTPParseError.missingHost.status),
                Malformed("two Host fields", get + "Host: y\r\n\r\n", HTTPParseError.duplicateHost.status),
                Malformed("HTTP/2.0 in the request line", "GET /blobs/\(digest) HTTP/2.0\r\nHost: x\r\n\r\n",
                          HTTPParseError.unsupportedVersion.status),
                Malformed("HTTP/1.2 in the request line", "GET /blobs/\(digest) HTTP/1.2\r\nHost: x\r\n\r\n",
                          HTTPParseError.unsupportedVersion.status),
                Malformed("a garbage version", "GET /blobs/\(digest) HTTPS/1.1\r\nHost: x\r\n\r\n",
                          HTTPParseError.invalidVersion.status),
                Malformed("two spaces in the request line", "GET  /blobs/\(digest) HTTP/1.1\r\nHost: x\r\n\r\n", 400),
                Malformed("a method with a slash", "GE/T /blobs/\(digest) HTTP/1.1\r\nHost: x\r\n\r\n",
                          HTTPParseError.invalidMethod.status),
                Malformed("a fragment in the target", "GET /blobs/\(digest)#x HTTP/1.1\r\nHost: x\r\n\r\n",
                          HTTPParseError.invalidTarget.status),
                Malformed("a target that is not origin-form", "GET blobs/\(digest) HTTP/1.1\r\nHost: x\r\n\r\n",
                          HTTPParseError.invalidTarget.status),
                Malformed("CONNECT authority-form", "CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: x\r\n\r\n",
                          HTTPParseError.invalidTarget.status),
                Malformed("a request line over 8 KiB",
                          "GET /v2/" + String(repeating: "a", count: HTTPRequestParser.maxRequestLineBytes + 100) + " HTTP/1.1\r\nHost: x\r\n\r\n",
                          HTTPParseError.requestLineTooLong.status),
                Malformed("a header section over 64 KiB",
                          get + (0..<70).map { "X-Filler-\($0): " + String(repeating: "f", count: 1000) + "\r\n" }.joined() + "\r\n",
                          HTTPParseError.headerSectionTooLarge.status),
                Malformed("a single header value over 64 KiB",
                          get + "X-Huge: " + String(repeating: "h", count: HTTPRequestParser.maxHeaderSectionBytes + 10) + "\r\n\r\n",
                          HTTPParseError.headerSectionTooLarge.status),
                Malformed("more than 100 header fields",
                          get + (0...HTTPRequestParser.maxHeaderCount).map { "X-N\($0): v\r\n" }.joined() + "\r\n",
                          HTTPParseError.tooManyHeaders.status),
                Malformed("a chunk size past 64 bits",
                          put + "Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
                          ChunkedBodyError.chunkSizeOverflow.status),
                Malformed("a chunk size that is not hexadecimal",
                          put + "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
                          ChunkedBodyError.invalidChunkSize.status),
                Malformed("chunk data not followed by CRLF",
                          put + "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
                          ChunkedBodyError.missingCRLFAfterData.status),
            ]
        }

        @Test func eachFramingAttackGetsTheParsersStatusAndTheConnectionCloses() throws {
            let fixture = try Fixture()
            for attack in Self.framingAttacks(digest: fixture.digest) {
                let client = try fixture.server.client(timeoutSeconds: 5)
                try client.send(attack.request)
                let reply: RawClient.Reply
                do { reply = try client.readReply() } catch {
                    Issue.record("\(attack): no response (\(error))")
                    continue
                }
                #expect(reply.status == attack.status, "\(attack): got \(reply.status) \(reply.text)")
                #expect(client.readsEOF(), "\(attack): the connection must close after a framing error")
            }
            // None of the bodies above was stored.
            #expect(Files.storedBlobs(in: fixture.directory.data) == ["\(fixture.digest)"])
            try fixture.expectStillServing()
        }

        @Test func aSmuggledSecondRequestIsNeverAnswered() throws {
            let fixture = try Fixture()
            let client = try fixture.server.client(timeoutSeconds: 5)
            // A front end that honours Content-Length sees one request; one that honours
            // chunked sees a second GET inside the body. Neither may be served.
            let smuggled = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
            try client.send(
                "POST /v2/test/blobs/uploads/ HTTP/1.1\r\nHost: x\r\nContent-Length: \(5 + smuggled.utf8.count)\r\n"
                    + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled)
            #expect(try client.readReply().status == 400)
            #expect(client.readsEOF(), "a second response means the smuggled request was served")
            try fixture.expectStillServing()
        }

        /// Targets that try to leave the store: well-framed requests, so the router answers each
        /// with an OCI error (400 or 404) and never a 200.
        static func traversalTargets(digest: Digest) -> [(method: String, target: String, status: Int)] {
            [
                ("GET", "/v2/../../etc/passwd/blobs/\(digest)", 400),
                ("GET", "/v2/../blobs/\(digest)", 400),
                ("GET", "/v2/a/blobs/sha256:../../x", 404),
                ("GET", "/v2/a/blobs/sha256:../../../../canary", 404),
                ("GET", "/v2/a/blobs/sha256:..", 400),
                ("GET", "/v2/a/blobs/sha256:%2e%2e%2f%2e%2e%2fcanary", 400),
                ("GET", "/blobs/sha256:%2e%2e", 400),
                ("GET", "/blobs/sha256:%2e%2e%2f%2e%2e%2fcanary", 400),
                ("GET", "/blobs/../canary", 400),
                ("GET", "/blobs/sha256:/../../canary", 400),
                ("GET", "/blobs/\(digest)/../../../canary", 400),
                ("GET", "/v2/Test/Repo/blobs/\(digest)", 400),
                ("GET", "/v2/a//b/blobs/\(digest)", 400),
                ("GET", "/v2/a%2Fb/blobs/\(digest)", 400),
                ("GET", "/v2/a%2f..%2f..%2fb/blobs/\(digest)", 400),
                ("GET", "/v2/%2e%2e/tags/list", 400),
                ("GET", "/v2/a/manifests/..%2F..%2Fcanary", 400),
                ("GET", "/v2/a/manifests/../../canary", 404),
                ("GET", "/v2/a/blobs/\(digest)/../../../../etc/passwd", 404),
                ("GET", "/v2/a/blobs/uploads/../../../canary", 404),
                ("GET", "http://x/../../etc/passwd", 404),
                ("GET", "/etc/passwd", 404),
                ("PUT", "/blobs/sha256:../../canary", 400),
                ("PUT", "/blobs/sha256:..%2F..%2Fcanary", 400),
                ("PUT", "/v2/a/manifests/..%2F..%2F..%2Fcanary", 400),
                ("DELETE", "/blobs/sha256:../../canary", 400),
                ("DELETE", "/v2/a/blobs/sha256:..%2f..%2fcanary", 400),
            ]
        }

        @Test func traversalAttemptsGetAnOCIErrorAndTouchNothingOutsideTheStore() throws {
            let fixture = try Fixture()
            for attempt in Self.traversalTargets(digest: fixture.digest) {
                let body = attempt.method == "PUT" ? Array("pwned\n".utf8) : []
                let reply = try fixture.server.request(attempt.method, attempt.target, body: body)
                let label = "\(attempt.method) \(attempt.target)"
                #expect(reply.status == attempt.status, "\(label): \(reply.status) \(reply.text)")
                #expect(reply.status != 200 && reply.status != 201, "\(label) succeeded")
                #expect(reply.text.hasPrefix(#"{"errors":[{"code":""#), "\(label): not an OCI error body: \(reply.text)")
                #expect(reply.header("Content-Type") == "application/json", "\(label)")
                #expect(!reply.text.contains("root:"), "\(label) leaked /etc/passwd")
            }
            fixture.expectNothingTouchedOutsideTheDataDirectory()
            #expect(Files.storedBlobs(in: fixture.directory.data) == ["\(fixture.digest)"])
            try fixture.expectStillServing()
        }

        @Test func fiftyPipelinedRequestsAreAnsweredInOrder() throws {
            let fixture = try Fixture()
            let client = try fixture.server.client()
            var requests = ""
            for index in 0..<50 {
                switch index % 5 {
                case 4: requests += "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                case 3: requests += "HEAD /blobs/\(fixture.digest) HTTP/1.1\r\nHost: x\r\n\r\n"
                default: requests += "GET /blobs/\(fixture.digest) HTTP/1.1\r\nHost: x\r\nRange: bytes=\(index * 10)-\(index * 10 + 9)\r\n\r\n"
                }
            }
            try client.send(requests)  // one send: all fifty heads arrive together
            for index in 0..<50 {
                switch index % 5 {
                case 4:
                    let reply = try client.readReply()
                    #expect(reply.status == 200 && reply.text == "ok\n", "response \(index): \(reply.status) \(reply.text)")
                case 3:
                    let reply = try client.readReply(isHead: true)
                    #expect(reply.status == 200 && reply.header("Content-Length") == "4096", "response \(index)")
                default:
                    let reply = try client.readReply()
                    #expect(reply.status == 206, "response \(index)")
                    #expect(reply.header("Content-Range") == "bytes \(index * 10)-\(index * 10 + 9)/4096", "response \(index)")
                    #expect(reply.body == Array(fixture.bytes[(index * 10)..<(index * 10 + 10)]), "response \(index)")
                }
            }
            // And the connection is still usable.
            try client.send("GET /blobs/\(fixture.digest) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(try client.readReply().body == fixture.bytes)
            #expect(client.readsEOF())
        }

        @Test func twoHundredStalledConnectionsNeitherBlockAClientNorGrowMemory() throws {
            let fixture = try Fixture()
            try fixture.expectStillServing()  // warm: the first request's allocations are made
            pause(seconds: 0.2)
            guard let before = fixture.server.residentKiB else { throw EndToEndFailure("no VmRSS for the server") }
            var stalled: [RawClient] = []
            for index in 0..<200 {
                let client = try fixture.server.client(timeoutSeconds: 5)
                switch index % 4 {
                case 0: break  // connected, says nothing
                case 1: try client.send("GET /blobs/\(fixture.digest) HTTP/1.1\r\nHost: x\r\n")  // head never ends
                case 2: try client.send("G")
                default:
                    // A body promised and never sent.
                    try client.send("PUT /blobs/\(fixture.digest) HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\nabc")
                }
                stalled.append(client)
            }
            pause(seconds: 0.3)

            for attempt in 0..<5 {
                let start = monotonicSeconds()
                try fixture.expectStillServing("a normal GET \(attempt) with 200 stalled connections")
                let elapsed = monotonicSeconds() - start
                #expect(elapsed < 1, "a normal GET took \(elapsed) s while 200 connections stalled")
            }
            guard let after = fixture.server.residentKiB else { throw EndToEndFailure("the server is gone") }
            #expect(after - before < 8 * 1024, "VmRSS grew from \(before) KiB to \(after) KiB with 200 stalled connections")

            stalled.removeAll()
            try fixture.expectStillServing("after the stalled connections went away")
        }
    }
}
