import BlobStore
import Glibc
import Testing
import TestSupport

extension EndToEnd {
    /// `blobcache serve` as a supervisor runs it: signals drain and exit 0, the store survives
    /// a restart, the operations endpoints answer, a locked data directory and bad
    /// configuration are refused with a non-zero exit.
    @Suite("EndToEnd: serve lifecycle", .serialized)
    struct ServeLifecycleTests {
        /// 64 MiB that differ per MiB, made quickly from one pseudo-random MiB.
        static func largeBlob() -> [UInt8] {
            let block = pseudoRandomBytes(count: 1 << 20, seed: 61)
            var bytes: [UInt8] = []
            bytes.reserveCapacity(64 << 20)
            for index in 0..<64 {
                bytes += block
                bytes[index << 20] = UInt8(index)
            }
            return bytes
        }

        /// Reads one response head from `socket`: the head's text and the body bytes that came
        /// in the same reads.
        static func readHead(_ socket: Int32) throws -> (head: String, rest: [UInt8]) {
            var received: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
                guard count > 0 else { throw EndToEndFailure("no response head (recv \(count), errno \(errno))") }
                received += chunk[..<count]
                if let end = firstIndex(of: Array("\r\n\r\n".utf8), in: received) {
                    return (String(decoding: received[..<end], as: UTF8.self), Array(received[(end + 4)...]))
                }
            }
        }

        @Test func sigtermDuringALargeDownloadDrainsItExitsZeroAndTheStoreSurvivesARestart() throws {
            let directory = StoreTestDirectory("e2e-lifecycle")
            let bytes = Self.largeBlob()
            let digest = Digest.of(bytes)
            let small = pseudoRandomBytes(count: 1000, seed: 62)
            let smallDigest = Digest.of(small)
            do {
                let server = try ServerProcess(dataDirectory: directory.data)
                #expect(try server.request("PUT", "/blobs/\(digest)", body: bytes).status == 201)
                #expect(try server.request("PUT", "/blobs/\(smallDigest)", body: small).status == 201)

                let client = try server.client(timeoutSeconds: 15)
                try client.send("GET /blobs/\(digest) HTTP/1.1\r\nHost: x\r\n\r\n")
                let (head, first) = try Self.readHead(client.socket)
                #expect(head.hasPrefix("HTTP/1.1 200"), "head: \(head)")
                #expect(head.lowercased().contains("content-length: \(bytes.count)"), "head: \(head)")

                let hasher = StreamingHasher(.sha256)
                hasher.update(first)
                var received = first.count
                var chunk = [UInt8](repeating: 0, count: 1 << 16)
                func readSome(upTo limit: Int) throws {
                    let count = chunk.withUnsafeMutableBytes { recv(client.socket, $0.baseAddress, min($0.count, limit), 0) }
                    guard count > 0 else { throw EndToEndFailure("the download stopped at \(received) of \(bytes.count) bytes (recv \(count), errno \(errno))") }
                    chunk.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
                    received += count
                }
                while received < 1 << 20 { try readSome(upTo: (1 << 20) - received) }

                // Mid-download: the response is in flight and most of it not yet sent.
                let signalled = monotonicSeconds()
                kill(server.pid, SIGTERM)
                pause(seconds: 0.5)
                #expect(server.isAlive, "the server exited with a download in flight instead of draining")

                // The slow client: a short pause after every MiB.
                var nextPause = received + (1 << 20)
                while received < bytes.count {
                    try readSome(upTo: bytes.count - received)
                    if received >= nextPause {
                        pause(seconds: 0.01)
                        nextPause += 1 << 20
                    }
                }
                #expect(received == bytes.count)
                #expect(hasher.finish() == digest, "the drained download is not the blob")
                #expect(client.readsEOF(), "a draining server closes the connection after the response")

                let status = server.waitForExit()
                let elapsed = monotonicSeconds() - signalled
                #expect(status == .exited(0), "SIGTERM: \(status)")
                #expect(elapsed < 12, "the drain took \(elapsed) s; the deadline is 10 s")
            }

            let restarted = try ServerProcess(dataDirectory: directory.data)
            let head = try restarted.request("HEAD", "/blobs/\(digest)")
            #expect(head.status == 200, "the large blob is gone after a restart")
            #expect(head.header("Content-Length") == String(bytes.count))
            let get = try restarted.request("GET", "/v2/any/name/blobs/\(smallDigest)")
            #expect(get.status == 200)
            #expect(get.body == small)
            #expect(restarted.stop(SIGINT) == .exited(0), "SIGINT must exit 0 too")
        }

        @Test(arguments: [SIGTERM, SIGINT])
        func aSignalWithOnlyIdleConnectionsExitsZeroPromptly(_ signal: Int32) throws {
            let directory = StoreTestDirectory("e2e-lifecycle")
            let server = try ServerProcess(dataDirectory: directory.data)
            // A keep-alive connection, idle after one request, must not hold the drain open.
            let idle = try server.client()
            try idle.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try idle.readReply().status == 200)
            let start = monotonicSeconds()
            #expect(server.stop(signal) == .exited(0))
            let elapsed = monotonicSeconds() - start
            #expect(elapsed < 5, "an idle server took \(elapsed) s to stop on signal \(signal)")
            #expect(idle.readsEOF())
            #expect(Files.exists("\(directory.data)/index/snapshot"), "no index snapshot was flushed")
        }

        @Test func anUploadInFlightAtSIGTERMCompletesAndIsDurable() throws {
            let directory = StoreTestDirectory("e2e-lifecycle")
            let bytes = pseudoRandomBytes(count: 4 << 20, seed: 63)
            let digest = Digest.of(bytes)
            do {
                let server = try ServerProcess(dataDirectory: directory.data)
                let client = try server.client(timeoutSeconds: 15)
                let half = bytes.count / 2
                try client.send(Array("PUT /blobs/\(digest) HTTP/1.1\r\nHost: x\r\nContent-Length: \(bytes.count)\r\n\r\n".utf8) + bytes[..<half])
                pause(seconds: 0.2)
                kill(server.pid, SIGTERM)
                pause(seconds: 0.3)
                #expect(server.isAlive, "the server exited with an upload in flight instead of draining")
                try client.send(Array(bytes[half...]))
                let reply = try client.readReply()
                #expect(reply.status == 201, "the upload finished during the drain: \(reply.status) \(reply.text)")
                client.finishSending()
                #expect(server.waitForExit() == .exited(0))
            }
            let restarted = try ServerProcess(dataDirectory: directory.data)
            let get = try restarted.request("GET", "/blobs/\(digest)")
            #expect(get.status == 200, "a blob answered 201 during the drain is gone after a restart")
            #expect(get.body == bytes)
            #expect(restarted.stop() == .exited(0))
        }

        /// A connection that sent part of a request head and then nothing has no response in
        /// flight: like an idle keep-alive connection, it must not hold the drain open until the
        /// deadline (10 s), or any slow or stuck client delays every restart by that much.
        @Test func aSignalWithAStalledPartialHeadExitsPromptly() throws {
            let directory = StoreTestDirectory("e2e-lifecycle")
            let server = try ServerProcess(dataDirectory: directory.data)
            let stalled = try server.client(timeoutSeconds: 15)
            try stalled.send("GET /healthz HTTP/1.1\r\nHost: x\r\n")  // the head never ends
            pause(seconds: 0.2)
            let start = monotonicSeconds()
            #expect(server.stop(SIGTERM) == .exited(0))
            let elapsed = monotonicSeconds() - start
            #expect(elapsed < 5, "SIGTERM took \(elapsed) s with one stalled partial request head open (the drain deadline is 10 s)")
        }

        @Test func operationsEndpointsAnswer() throws {
            let directory = StoreTestDirectory("e2e-lifecycle")
            let server = try ServerProcess(dataDirectory: directory.data)
            #expect(server.readyLine.contains("listening on http://127.0.0.1:\(server.port)"), "ready line: \(server.readyLine)")
            #expect(server.readyLine.contains(directory.data), "ready line: \(server.readyLine)")

            let health = try server.request("GET", "/healthz")
            #expect(health.status == 200)
            let ready = try server.request("GET", "/readyz")
            #expect(ready.status == 200, "readyz: \(ready.text)")
            let base = try server.request("GET", "/v2/")
            #expect(base.status == 200)
            #expect(base.header("Docker-Distribution-API-Version") == "registry/2.0")

            let metrics = try server.request("GET", "/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.header("Content-Type")?.hasPrefix("text/plain") == true)
            #expect(metrics.text.contains("blobcache_http_requests_total"), "metrics:\n\(metrics.text.prefix(2000))")
            #expect(metrics.text.contains("# TYPE blobcache_http_requests_total counter"))
            // The /healthz request above is counted by the time a later request is answered.
            let again = try server.request("GET", "/metrics")
            let counted = again.text.split(separator: "\n").filter {
                $0.hasPrefix("blobcache_http_requests_total{") && !$0.hasSuffix(" 0")
            }
            #expect(!counted.isEmpty, "no request was counted:\n\(again.text.prefix(2000))")
            #expect(server.stop() == .exited(0))
        }

        @Test func aSecondServerOnTheSameDataDirectoryFails() throws {
            let directory = StoreTestDirectory("e2e-lifecycle")
            let first = try ServerProcess(dataDirectory: directory.data)
            let second = try ExternalTool.run(ServerProcess.executable, [
                "serve", "--listen", "127.0.0.1:0", "--data-dir", directory.data, "--log-level", "warn",
            ], timeoutSeconds: 15)
            #expect(second.status != .exited(0), "a second server on a locked data directory: \(second.output)")
            #expect(second.status != .exited(124) && second.status != .exited(137),
                    "the second server kept running on a locked data directory: \(second.output)")
            if case .signaled = second.status { Issue.record("the second server crashed: \(second.status)\n\(second.output)") }
            #expect(!second.output.contains("listening on"), "the second server served: \(second.output)")
            #expect(second.output.contains(directory.data), "the message should name the directory: \(second.output)")
            #expect(second.output.contains("in use"), "the message should say the directory is in use: \(second.output)")
            // The first is unharmed.
            #expect(try first.request("GET", "/healthz").status == 200)
            #expect(first.stop() == .exited(0))
        }

        struct BadSetting: CustomStringConvertible {
            let flag: String
            let environment: String
            let key: String
            let value: String
            var description: String { "\(flag) \(value)" }
        }

        static let badSettings = [
            BadSetting(flag: "--max-size", environment: "BLOBCACHE_MAX_SIZE", key: "max_size", value: "banana"),
            BadSetting(flag: "--min-free", environment: "BLOBCACHE_MIN_FREE", key: "min_free", value: "-5GiB"),
            BadSetting(flag: "--memory-budget", environment: "BLOBCACHE_MEMORY_BUDGET", key: "memory_budget", value: "1KiB"),
            BadSetting(flag: "--listen", environment: "BLOBCACHE_LISTEN", key: "listen", value: "127.0.0.1:99999"),
            BadSetting(flag: "--log-level", environment: "BLOBCACHE_LOG_LEVEL", key: "log_level", value: "loud"),
        ]

        @Test(arguments: badSettings)
        func badConfigurationExitsNonZeroNamingTheKeyAndValue(_ setting: BadSetting) throws {
            let directory = StoreTestDirectory("e2e-config")
            let executable = ServerProcess.executable
            let common = ["--data-dir", directory.data]
            let listen = setting.flag == "--listen" ? [] : ["--listen", "127.0.0.1:0"]

            let byFlag = try ExternalTool.run(executable, ["serve"] + common + listen + [setting.flag, setting.value], timeoutSeconds: 15)
            Self.expectRefusal(byFlag, naming: setting.flag, setting.value, "flag")

            let byEnvironment = try ExternalTool.shell(
                "\(setting.environment)=\(shellQuoted(setting.value)) exec \(shellQuoted(executable)) serve "
                    + (common + listen).map(shellQuoted).joined(separator: " "), timeoutSeconds: 15)
            Self.expectRefusal(byEnvironment, naming: setting.environment, setting.value, "environment")

            let config = directory.file("config.json")
            try Files.write(#"{"\#(setting.key)": "\#(setting.value)"}"#, to: config)
            let byFile = try ExternalTool.run(executable, ["serve", "--config", config] + common + listen, timeoutSeconds: 15)
            Self.expectRefusal(byFile, naming: setting.key, setting.value, "config file")
        }

        static func expectRefusal(_ run: ExternalTool.Run, naming key: String, _ value: String, _ source: String) {
            #expect(run.status != .exited(0), "\(source) \(key)=\(value) was accepted: \(run.output)")
            #expect(run.status != .exited(124) && run.status != .exited(137), "\(source) \(key)=\(value): blobcache kept running")
            if case .signaled = run.status { Issue.record("\(source) \(key)=\(value) crashed blobcache: \(run.status)") }
            #expect(run.output.contains(key), "\(source): the message does not name \(key): \(run.output)")
            #expect(run.output.contains(value), "\(source): the message does not name '\(value)': \(run.output)")
            #expect(!run.output.contains("listening on"))
        }
    }
}
