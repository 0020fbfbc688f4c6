import BlobStore
import Glibc
import Synchronization
import Testing
import TestSupport
@testable import BlobServer

@Suite struct UpstreamClientFramingTests {
    typealias Reply = FakeHTTPServer.Reply
    static let blob = pseudoRandomBytes(count: 200_000, seed: 7)
    var blob: [UInt8] { Self.blob }

    @Test(arguments: [Reply.Framing.contentLength, .chunked(chunkSize: 4096), .chunked(chunkSize: 1), .closeDelimited])
    func aGetBodyArrivesWhole(framing: Reply.Framing) throws {
        let body = framing == .chunked(chunkSize: 1) ? Array(blob.prefix(3000)) : blob
        let server = try FakeHTTPServer { _ in Reply(headers: [("Docker-Content-Digest", "sha256:aa")], body: body, framing: framing) }
        defer { server.stop() }
        let counters = UpstreamCounters()
        let client = try UpstreamTesting.client(port: server.port, counters: counters)
        let response = try client.send(UpstreamTesting.get())
        #expect(response.status == 200)
        #expect(response.header("docker-content-digest") == "sha256:aa")
        #expect(response.contentLength == (framing == .contentLength ? UInt64(body.count) : nil))
        #expect(try UpstreamTesting.body(of: response, bufferSize: 1000) == body)
        let request = try #require(server.requests.first)
        #expect(request.method == "GET")
        #expect(request.target == "/v2/library/alpine/blobs/sha256:aa")
        #expect(request.header("Host") == "127.0.0.1:\(server.port)")
        #expect(request.header("Accept-Encoding") == "identity")
        #expect(counters.snapshot.requestsByStatus == [200: 1])
        #expect(counters.snapshot.bodyBytesReceived == UInt64(body.count))
    }

    @Test func aHeadAnswerHasNoBodyButItsLengthAndTheConnectionIsReused() throws {
        let server = try FakeHTTPServer { _ in Reply(body: Array(repeating: 1, count: 1234)) }
        defer { server.stop() }
        let client = try UpstreamTesting.client(port: server.port)
        for _ in 0..<3 {
            let response = try client.send(UpstreamRequest(method: .head, path: "/v2/x/blobs/d", repository: "x"))
            #expect(response.contentLength == 1234)
            #expect(try UpstreamTesting.body(of: response).isEmpty)
        }
        #expect(server.requests.map(\.method) == ["HEAD", "HEAD", "HEAD"])
        #expect(server.connectionsAccepted == 1)
    }

    @Test(arguments: [204, 304])
    func noContentAndNotModifiedHaveNoBody(status: Int) throws {
        let server = try FakeHTTPServer { _ in Reply(status: status) }
        defer { server.stop() }
        let client = try UpstreamTesting.client(port: server.port)
        for _ in 0..<2 {
            let (answer, body) = try UpstreamTesting.fetch(client)
            #expect(answer == status && body.isEmpty)
        }
        #expect(server.connectionsAccepted == 1)
    }

    @Test func callerFieldsAreSentAndTheClientsOwnAreNotOverridden() throws {
        let server = try FakeHTTPServer { _ in .text("ok") }
        defer { server.stop() }
        let client = try UpstreamTesting.client(port: server.port)
        _ = try UpstreamTesting.fetch(client, UpstreamTesting.get(headers: [
            ("Accept", "application/vnd.oci.image.manifest.v1+json"), ("Host", "evil"), ("Authorization", "Bearer stolen"),
        ]))
        let request = try #require(server.requests.first)
        #expect(request.header("Accept") == "application/vnd.oci.image.manifest.v1+json")
        #expect(request.header("Host") == "127.0.0.1:\(server.port)")
        #expect(request.header("Authorization") == nil)
        #expect(request.header("User-Agent")?.hasPrefix("blobcache/") == true)
    }

    @Test func aFieldWithALineBreakIsRefusedBeforeAnythingIsSent() throws {
        let server = try FakeHTTPServer { _ in .text("ok") }
        defer { server.stop() }
        let client = try UpstreamTesting.client(port: server.port)
        let error = UpstreamTesting.error { _ = try client.send(UpstreamTesting.get(headers: [("Accept", "x\r\nX-Injected: 1")])) }
        #expect(error?.caseName == "malformed")
        #expect(server.requests.isEmpty)
    }

    @Test func theBasePathPrefixIsPrependedToEveryRequest() throws {
        let server = try FakeHTTPServer { _ in .text("ok") }
        defer { server.stop() }
        let client = try UpstreamClient(configuration: UpstreamTesting.configuration(port: server.port) {
            $0.baseURL = "http://127.0.0.1:\(server.port)/mirror/"
        })
        _ = try UpstreamTesting.fetch(client, UpstreamTesting.get("/v2/x/tags/list?n=2"))
        #expect(server.requests.first?.target == "/mirror/v2/x/tags/list?n=2")
    }

    @Test func aMalformedStatusLineIsMalformed() throws {
        let server = try FakeHTTPServer { _ in .raw(Array("HTTP/1.1 abc OK\r\nContent-Length: 0\r\n\r\n".utf8)) }
        defer { server.stop() }
        let counters = UpstreamCounters()
        let client = try UpstreamTesting.client(port: server.port, counters: counters)
        let error = UpstreamTesting.error { _ = try client.send(UpstreamTesting.get()) }
        #expect(error?.caseName == "malformed")
        #expect(error?.description.contains("status line") == true)
        #expect(server.requests.count == 1, "a malformed answer is not retried")
        #expect(counters.snapshot.transportFailures == 1)
    }

    @Test func interimAnswersAreSkipped() throws {
        let server = try FakeHTTPServer { _ in
            .raw(Array("HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8))
        }
        defer { server.stop() }
        let client = try UpstreamTesting.client(port: server.port)
        let (status, body) = try UpstreamTesting.fetch(client)
        #expect(status == 200 && body == Array("ok".utf8))
    }
}

@Suite struct UpstreamClientConnectionTests {
    typealias Reply = FakeHTTPServer.Reply

    @Test func keepAliveCarriesSeveralRequestsOnOneConnection() throws {
        let server = try FakeHTTPServer { request in .text("answer \(request.index)") }
        defer { server.stop() }
        let client = try UpstreamTesting.client(port: server.port)
        for index in 0..<5 {
            #expect(try UpstreamTesting.fetch(client).body == Array("answer \(index)".utf8))
        }
        #expect(server.connectionsAccepted == 1)
        #expect(Set(server.requests.map(\.connection)) == [0])
    }

    @Test func aCallerOverTheConnectionCapWaitsForAConnectionToComeBack() throws {
        let server = try FakeHTTPServer { _ in .text("ok") }
        defer { server.stop() }
        let client = try UpstreamTesting.client(port: server.port) { $0.maxConnectionsPerOrigin = 1 }
        final class Flags: Sendable {
            let firstFinished = Atomic<Bool>(false)
            let secondSawFirstFinished = Atomic<Bool>(false)
        }
        let flags = Flags()
        let first = try client.send(UpstreamTesting.get())
        let second = SystemThread(name: "second") {
            guard let response = try? client.send(UpstreamTesting.get()) else { return }
            flags.secondSawFirstFinished.store(flags.firstFinished.load(ordering: .sequentiallyConsistent), ordering: .sequentiallyConsistent)
            _ = try? UpstreamTesting.body(of: response)
        }
        sleepBlocking(seconds: 0.3)
        #expect(server.requests.count == 1, "the second request waits while the first holds the only connection")
        flags.firstFinished.store(true, ordering: .sequentiallyConsistent)
        _ = try UpstreamTesting.body(of: first)
        second.join()
        let sawFinished = flags.secondSawFirstFinished.load(ordering: .sequentiallyConsistent)
        #expect(sawFinished)
        #expect(server.requests.count == 2)
        #expect(server.connectionsAccepted == 1)
    }

    @Test func manyThreadsShareTheClientWithinTheConnectionCap() throws {
        let server = try FakeHTTPServer { request in
            Reply(body: pseudoRandomBytes(count: 20_000, seed: UInt64(request.target.dropFirst().split(separator: "/").last!)!))
        }
        defer { server.stop() }
        let client = try UpstreamTesting.client(port: server.port) { $0.maxConnectionsPerOrigin = 3 }
        let failures = Mutex<[String]>([])
        let threads = (0..<8).map { thread in
            SystemThread(name: "sender-\(thread)") {
                for round in 0..<5 {
                    let seed = thread * 100 + round
                    do {
                        let body = try UpstreamTesting.fetch(client, UpstreamTesting.get("/blobs/\(seed)")).body
                        if body != pseudoRandomBytes(count: 20_000, seed: UInt64(seed)) { failures.withLock { $0.append("seed \(seed)") } }
                    } catch {
                        failures.withLock { $0.append("\(error)") }
                    }
                }
            }
        }
        for thread in threads { thread.join() }
        #expect(failures.withLock { $0 }.isEmpty)
        #expect(server.requests.count == 40)
        #expect(server.connectionsAccepted <= 3)
    }

    @Test func idleConnectionsBeyondTheIdleCapAreClosed() throws {
        let server = try FakeHTTPServer { _ in .text("ok") }
        defer { server.stop() }
        let client = try UpstreamTesting.client(port: server.port) { $0.maxIdleConnectionsPerOrigin = 1 }
        let responses = try (0..<3).map { _ in try client.send(UpstreamTesting.get()) }
        #expect(client.pool.counts(for: client.base.origin) == (idle: 0, open: 3))
        for response in responses { _ = try UpstreamTesting.body(of: response) }
        #expect(client.pool.counts(for: client.base.origin) == (idle: 1, open: 1))
        #expect(server.connectionsAccepted == 3)
    }

    @Test func aResponseDroppedUnreadGivesItsConnectionBack() throws {
        let server = try FakeHTTPServer { _ in Reply(body: Array(repeating: 0, count: 100_000)) }
        defer { server.stop() }
        let client = try UpstreamTesting.client(port: server.port) { $0.maxConnectionsPerOrigin = 1 }
        try client.send(UpstreamTesting.get()).abandon()
        _ = try client.send(UpstreamTesting.get())
        _ = try UpstreamTesting.fetch(client)
        #expect(server.connectionsAccepted == 3, "an abandoned or dropped response closes its connection")
        #expect(client.pool.counts(for: client.base.origin).open == 1)
    }

    @Test func aPooledConnectionTheServerClosedIsRetriedOnANewOneWithoutCountingARetry() throws {
        let server = try FakeHTTPServer { request in request.index == 1 ? .hangUp : .text("ok \(request.index)") }
        defer { server.stop() }
        let counters = UpstreamCounters()
        let client = try UpstreamTesting.client(port: server.port, counters: counters) { $0.maxRetries = 0 }
        #expect(try UpstreamTesting.fetch(client).body == Array("ok 0".utf8))
        #expect(try UpstreamTesting.fetch(client).body == Array("ok 2".utf8))
        #expect(server.requests.map(\.connection) == [0, 0, 1])
        #expect(counters.snapshot.retries == 0)
        #expect(counters.snapshot.transportFailures == 1)
    }

    @Test func aFreshConnectionClosedBeforeAnsweringIsARetry() throws {
        let server = try FakeHTTPServer { request in request.index == 0 ? .reset : .text("ok") }
        defer { server.stop() }
        let counters = UpstreamCounters()
        let client = try UpstreamTesting.client(port: server.port, counters: counters)
        #expect(try UpstreamTesting.fetch(client).body == Array("ok".utf8))
        #expect(counters.snapshot.retries == 1)
    }

    @Test func anIdleConnectionOlderThanTheIdleTimeoutIsNotReused() throws {
        let server = try FakeHTTPServer { _ in .text("ok") }
        defer { server.stop() }
        let client = try UpstreamTesting.client(port: server.port) { $0.idleTimeoutSeconds = 0.2 }
        _ = try UpstreamTesting.fetch(client)
        sleepBlocking(seconds: 0.4)
        _ = try UpstreamTesting.fetch(client)
        #expect(server.connectionsAccepted == 2)
    }

    @Test func aConnectionClosedAfterItsAnswerIsNotReused() throws {
        let server = try FakeHTTPServer { _ in
            var reply = Reply.text("ok")
            reply.headers = [("Connection", "close")]
            reply.closeAfterResponse = true
            return reply
        }
        defer { server.stop() }
        let counters = UpstreamCounters()
        let client = try UpstreamTesting.client(port: server.port, counters: counters)
        _ = try UpstreamTesting.fetch(client)
        _ = try UpstreamTesting.fetch(client)
        #expect(server.connectionsAccepted == 2)
        #expect(counters.snapshot.transportFailures == 0, "Connection: close is honoured, not discovered")
    }

    @Test func aServerThatNeverAnswersTimesOutWithinTheFirstByteTimeout() throws {
        let server = try FakeHTTPServer { _ in .silence }
        defer { server.stop() }
        let client = try UpstreamTesting.client(port: server.port) { $0.firstByteTimeoutSeconds = 0.3 }
        let start = monotonicSeconds()
        let error = UpstreamTesting.error { _ = try client.send(UpstreamTesting.get()) }
        let elapsed = monotonicSeconds() - start
        #expect(error?.caseName == "timedOut")
        #expect(elapsed >= 0.29 && elapsed < 2, "took \(elapsed) s")
        #expect(server.requests.count == 1, "a timeout is not retried")
    }

    @Test func nobodyListeningIsUnreachableAfterTheRetries() throws {
        let server = try FakeHTTPServer { _ in .text("ok") }
        let port = server.port
        server.stop()
        let counters = UpstreamCounters()
        let client = try UpstreamTesting.client(port: port, counters: counters) { $0.maxRetries = 2 }
        let error = UpstreamTesting.error { _ = try client.send(UpstreamTesting.get()) }
        #expect(error?.caseName == "unreachable")
        #expect(error?.description.contains("refused") == true)
        #expect(counters.snapshot.retries == 2)
        #expect(counters.snapshot.transportFailures == 3)
    }
}

@Suite struct UpstreamClientRetryTests {
    typealias Reply = FakeHTTPServer.Reply

    @Test func a503ThenA200IsRetried() throws {
        let server = try FakeHTTPServer(replies: [.text("busy", status: 503), .text("ok")])
        defer { server.stop() }
        let counters = UpstreamCounters()
        let client = try UpstreamTesting.client(port: server.port, counters: counters)
        let (status, body) = try UpstreamTesting.fetch(client)
        #expect(status == 200 && body == Array("ok".utf8))
        #expect(counters.snapshot.retries == 1)
        #expect(counters.snapshot.requestsByStatus == [200: 1])
        #expect(server.connectionsAccepted == 1, "the 503's body was drained and its connection reused")
    }

    @Test func persistent5xxIsUnavailableWithTheLastStatus() throws {
        let server = try FakeHTTPServer { request in .text("no", status: request.index < 2 ? 500 : 502) }
        defer { server.stop() }
        let counters = UpstreamCounters()
        let client = try UpstreamTesting.client(port: server.port, counters: counters) { $0.maxRetries = 2 }
        #expect(UpstreamTesting.error { _ = try client.send(UpstreamTesting.get()) } == .unavailable(status: 502))
        #expect(server.requests.count == 3)
        #expect(counters.snapshot.requestsByStatus == [502: 1])
    }

    @Test func a429WithRetryAfterOneIsRetriedAfterASecond() throws {
        let server = try FakeHTTPServer(replies: [.text("slow down", status: 429, headers: [("Retry-After", "1")]), .text("ok")])
        defer { server.stop() }
        let client = try UpstreamTesting.client(port: server.port)
        #expect(try UpstreamTesting.fetch(client).status == 200)
        let arrivals = server.requests.map(\.arrival)
        #expect(arrivals.count == 2)
        #expect(arrivals[1] - arrivals[0] >= 0.95, "waited \(arrivals[1] - arrivals[0]) s")
    }

    @Test func aRetryAfterBeyondTheBoundFailsAtOnce() throws {
        let server = try FakeHTTPServer { _ in .text("maintenance", status: 503, headers: [("Retry-After", "120")]) }
        defer { server.stop() }
        let client = try UpstreamTesting.client(port: server.port) { $0.maxRetryAfterSeconds = 10 }
        let start = monotonicSeconds()
        #expect(UpstreamTesting.error { _ = try client.send(UpstreamTesting.get()) } == .unavailable(status: 503))
        #expect(monotonicSeconds() - start < 1)
        #expect(server.requests.count == 1)
    }

    @Test func aNotFoundIsHandedOverNotRetried() throws {
        let server = try FakeHTTPServer { _ in .text("{\"errors\":[]}", status: 404) }
        defer { server.stop() }
        let client = try UpstreamTesting.client(port: server.port)
        let (status, body) = try UpstreamTesting.fetch(client)
        #expect(status == 404 && body == Array("{\"errors\":[]}".utf8))
        #expect(server.requests.count == 1)
    }
}

@Suite struct UpstreamClientResumeTests {
    typealias Reply = FakeHTTPServer.Reply
    /// Made once: a few MiB of pseudo-random bytes take a while in a debug build.
    static let blob = pseudoRandomBytes(count: 3 << 20, seed: 42)
    var blob: [UInt8] { Self.blob }

    func resumedOffsets(_ server: FakeHTTPServer) -> [Int] {
        server.requests.compactMap { $0.header("Range") }.map { Int($0.dropFirst("bytes=".count).dropLast())! }
    }

    @Test(arguments: [Reply.BodyEnd.reset(afterBytes: 1 << 20), .close(afterBytes: 1 << 20), .stall(afterBytes: 1 << 20)])
    func aBodyThatBreaksMidwayResumesWithRangeAndTheBytesAreExact(firstEnd: Reply.BodyEnd) throws {
        let server = try FakeHTTPServer(UpstreamTesting.rangeServer(blob, firstEnd: firstEnd))
        defer { server.stop() }
        let counters = UpstreamCounters()
        let client = try UpstreamTesting.client(port: server.port, counters: counters) { $0.idleTimeoutSeconds = 0.5 }
        let response = try client.send(UpstreamTesting.get(headers: [("Accept", "application/octet-stream")]))
        #expect(try UpstreamTesting.body(of: response, bufferSize: 65536) == blob)
        #expect(server.requests.count == 2)
        let offsets = resumedOffsets(server)
        #expect(offsets.count == 1 && offsets[0] > 0 && offsets[0] <= 1 << 20)
        #expect(server.requests[1].header("Accept") == "application/octet-stream", "the original fields go along")
        #expect(counters.snapshot.resumes == 1)
        #expect(counters.snapshot.requestsByStatus == [200: 1], "a resumption is not another request")
    }

    @Test func aChunkedBodyCutInAChunkResumes() throws {
        let server = try FakeHTTPServer(UpstreamTesting.rangeServer(blob, firstEnd: .close(afterBytes: 100_000), framing: .chunked(chunkSize: 30_000)))
        defer { server.stop() }
        let client = try UpstreamTesting.client(port: server.port)
        #expect(try UpstreamTesting.body(of: try client.send(UpstreamTesting.get())) == blob)
        #expect(resumedOffsets(server).count == 1)
    }

    @Test func brokenChunkedFramingResumes() throws {
        let good = Array(blob.prefix(5000))
        let server = try FakeHTTPServer { request in
            if request.index == 0 {
                return .raw(Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n".utf8) + good.prefix(1000) + Array("XX".utf8))
            }
            return Reply(status: 206, headers: [("Content-Range", "bytes 1000-4999/5000")], body: Array(good[1000...]))
        }
        defer { server.stop() }
        let client = try UpstreamTesting.client(port: server.port)
        #expect(try UpstreamTesting.body(of: try client.send(UpstreamTesting.get())) == good)
        #expect(server.requests[1].header("Range") == "bytes=1000-")
    }

    @Test func anUpstreamThatIgnoresRangeHasTheDeliveredBytesSkipped() throws {
        let small = Array(blob.prefix(300_000))
        let server = try FakeHTTPServer { request in
            Reply(body: small, bodyEnd: request.index == 0 ? .reset(afterBytes: 100_000) : .complete)
        }
        defer { server.stop() }
        let client = try UpstreamTesting.client(port: server.port)
        #expect(try UpstreamTesting.body(of: try client.send(UpstreamTesting.get())) == small)
        #expect(server.requests[1].header("Range") != nil)
    }

    @Test func aResumptionAnsweredWithAShorterWholeBodyIsBodyBroken() throws {
        let server = try FakeHTTPServer { request in
            request.index == 0
                ? Reply(body: Array(blob.prefix(300_000)), bodyEnd: .reset(afterBytes: 100_000))
                : Reply(body: Array(blob.prefix(50_000)))
        }
        defer { server.stop() }
        let client = try UpstreamTesting.client(port: server.port)
        let response = try client.send(UpstreamTesting.get())
        #expect(UpstreamTesting.error { _ = try UpstreamTesting.body(of: response) }?.caseName == "bodyBroken")
    }

    @Test func aResumptionAnsweredWithTheWrongRangeIsBodyBroken() throws {
        let server = try FakeHTTPServer { request in
            request.index == 0
                ? Reply(body: Array(blob.prefix(10_000)), bodyEnd: .close(afterBytes: 5000))
                : Reply(status: 206, headers: [("Content-Range", "bytes 0-9999/10000")], body: Array(blob.prefix(10_000)))
        }
        defer { server.stop() }
        let client = try UpstreamTesting.client(port: server.port)
        let response = try client.send(UpstreamTesting.get())
        let error = UpstreamTesting.error { _ = try UpstreamTesting.body(of: response) }
        #expect(error?.caseName == "bodyBroken")
    }

    @Test func resumptionsStopAtTheLimit() throws {
        let server = try FakeHTTPServer { request in
            let first = request.header("Range").map { Int($0.dropFirst("bytes=".count).dropLast())! } ?? 0
            let rest = Array(blob[first..<(first + 100_000)])
            return first == 0
                ? Reply(headers: [("Content-Length", "\(blob.count)")], body: rest, bodyEnd: .close(afterBytes: 1000))
                : Reply(status: 206, headers: [("Content-Range", "bytes \(first)-\(blob.count - 1)/\(blob.count)"),
                                               ("Content-Length", "\(blob.count - first)")],
                        body: rest, bodyEnd: .close(afterBytes: 1000))
        }
        defer { server.stop() }
        let counters = UpstreamCounters()
        let client = try UpstreamTesting.client(port: server.port, counters: counters) { $0.maxResumes = 2 }
        let response = try client.send(UpstreamTesting.get())
        let error = UpstreamTesting.error { _ = try UpstreamTesting.body(of: response) }
        #expect(error?.caseName == "bodyBroken")
        #expect(server.requests.count == 3)
        #expect(counters.snapshot.resumes == 2)
    }

    @Test func aHeadIsNeverResumedAndACloseDelimitedBodyEndsAtClose() throws {
        let server = try FakeHTTPServer { _ in Reply(body: Array(blob.prefix(1000)), framing: .closeDelimited) }
        defer { server.stop() }
        let client = try UpstreamTesting.client(port: server.port)
        #expect(try UpstreamTesting.fetch(client).body == Array(blob.prefix(1000)))
        #expect(server.requests.count == 1)
    }
}
