import BlobStore
import Glibc
import Testing
import TestSupport
@testable import BlobServer

extension EndToEnd {
    /// A real `blobcache serve` mirroring an upstream that misbehaves, one table row per fault.
    /// Each row sends four GETs and a HEAD of a blob the mirror lacks, all at once. Every client
    /// gets the exact bytes or a clean error: a 4xx/5xx with an OCI JSON body, or, once a 200
    /// head went out, a connection closed before the announced length. Every request ends
    /// within the row's bound. Nothing wrong is cached: once the upstream behaves, the next GET
    /// gets the exact bytes (from the upstream again when the first attempt failed), and every
    /// blob file in the data directory hashes to its name.
    ///
    /// The bounds come from the upstream client's defaults (`UpstreamClient.Configuration`; the
    /// server has no flags for them): connect 10 s, first byte 30 s, a body stall 30 s, 3
    /// retries with 0.2 s backoff doubling, `Retry-After` waited up to 10 s, 5 resumes.
    /// Rows run in parallel (about one per core), each with its own upstream and server.
    @Suite("EndToEnd: upstream faults through the mirror")
    struct UpstreamFaultTests {
        static let defaults = UpstreamClient.Configuration(baseURL: "http://127.0.0.1", environment: [:])

        /// Where the mirror's upstream is.
        enum Upstream: Sendable {
            case serving(FaultyUpstream.Fault)
            /// A port where connections are refused; the upstream is started there to heal.
            case refusing
            /// A name in `.invalid` (RFC 2606), which never resolves; nothing heals it.
            case unresolvable
        }

        /// What each client gets while the fault lasts.
        enum Expectation: Sendable, CustomStringConvertible {
            case exactBytes
            /// A 200 head, then the connection closes before the last byte.
            case cutOff
            case cleanError(status: Int, code: String)

            var description: String {
                switch self {
                case .exactBytes: "the exact bytes"
                case .cutOff: "a 200 cut off before the last byte"
                case .cleanError(let status, let code): "\(status) \(code)"
                }
            }
        }

        /// What a row leaves to look at after its clients are done.
        struct Evidence {
            let upstream: FaultyUpstream?
            let server: ServerProcess
            let outcomes: [ConcurrentExchanges.Outcome]
        }

        struct Row: Sendable, CustomStringConvertible {
            let name: String
            let upstream: Upstream
            var blobSize = 256 << 10
            let get: Expectation
            /// A HEAD gets this; the length when `.exactBytes`.
            let head: Expectation
            /// Every request ends within this many seconds.
            let boundSeconds: Double
            /// Further checks of the upstream's requests and the server's metrics.
            var check: @Sendable (Evidence) throws -> Void = { _ in }

            var description: String { name }
        }

        static let rows: [Row] = [
            // The two rows that wait out a 30 s timeout first: tests run about one per core, so
            // started together they overlap instead of adding up.
            Row(name: "a body that stalls past the body timeout, then resumes", upstream: .serving(.stallUnranged(afterBytes: 64 << 10)),
                get: .exactBytes, head: .exactBytes, boundSeconds: defaults.idleTimeoutSeconds + 20) { evidence throws in
                let gets = evidence.upstream?.blobGets ?? []
                #expect(gets.map(\.range) == [nil, "bytes=65536-"], "\(gets)")
                if gets.count == 2 {
                    // Given up on at the body timeout, not before.
                    #expect(gets[1].arrival - gets[0].arrival >= defaults.idleTimeoutSeconds - 1)
                }
                #expect(try evidence.server.metric("blobcache_upstream_resumes_total") == 1)
            },
            Row(name: "a request never answered", upstream: .serving(.silence),
                get: .cleanError(status: 502, code: "UNKNOWN"), head: .cleanError(status: 502, code: "UNKNOWN"),
                boundSeconds: defaults.firstByteTimeoutSeconds + 15) { evidence throws in
                // A timeout is not retried: one GET, one HEAD.
                #expect(evidence.upstream?.received.count == 2)
            },
            Row(name: "a slow drip that ends within the timeouts", upstream: .serving(.drip(bytesPerSecond: 16 << 10)),
                blobSize: 64 << 10, get: .exactBytes, head: .exactBytes, boundSeconds: 20) { evidence throws in
                // One fill for every client, the bytes streamed as they dripped in.
                #expect(evidence.upstream?.blobGets.count == 1)
            },
            Row(name: "a reset mid-body, then a range", upstream: .serving(.resetUnranged(afterBytes: 100_000)),
                get: .exactBytes, head: .exactBytes, boundSeconds: 10) { evidence throws in
                #expect(evidence.upstream?.blobGets.map(\.range) == [nil, "bytes=100000-"])
                #expect(try evidence.server.metric("blobcache_upstream_resumes_total") == 1)
            },
            Row(name: "a reset in every body", upstream: .serving(.resetEveryBody(afterBytes: 4096)),
                get: .cutOff, head: .exactBytes, boundSeconds: 15) { evidence throws in
                // The first GET and every resume, then the fill gives up.
                #expect(evidence.upstream?.blobGets.count == 1 + defaults.maxResumes)
                #expect(try evidence.server.metric("blobcache_mirror_fills_failed_total") == 1)
            },
            Row(name: "the right length of the wrong bytes", upstream: .serving(.wrongBytes),
                get: .cutOff, head: .exactBytes, boundSeconds: 10) { evidence throws in
                #expect(evidence.upstream?.blobGets.count == 1)
                #expect(try evidence.server.metric("blobcache_mirror_digest_mismatches_total") == 1)
                for outcome in evidence.outcomes where outcome.method == "GET" {
                    // Cut off at the last byte at the latest: held back until the digest matched.
                    #expect(outcome.body.count < outcome.announcedLength ?? 0, "\(outcome)")
                }
            },
            Row(name: "500 every time", upstream: .serving(.status(500, times: .max, retryAfter: nil)),
                get: .cleanError(status: 502, code: "UNKNOWN"), head: .cleanError(status: 502, code: "UNKNOWN"), boundSeconds: 10) { evidence throws in
                #expect(evidence.upstream?.blobGets.count == 1 + defaults.maxRetries)
                #expect(try evidence.server.metric("blobcache_mirror_fills_failed_total") == 1)
            },
            Row(name: "500 twice, then 200", upstream: .serving(.status(500, times: 2, retryAfter: nil)),
                get: .exactBytes, head: .exactBytes, boundSeconds: 10) { evidence throws in
                #expect(try evidence.server.metric("blobcache_upstream_retries_total") == 2)
            },
            Row(name: "429 with a short Retry-After, then 200", upstream: .serving(.status(429, times: 1, retryAfter: "1")),
                get: .exactBytes, head: .exactBytes, boundSeconds: 10) { evidence throws in
                // The refused request came again (HEAD and GET arrive together: match the method),
                // having waited as it was asked to.
                let received = evidence.upstream?.received ?? []
                let retry = received.dropFirst().first { $0.method == received.first?.method }
                #expect(retry != nil, "\(received)")
                if let first = received.first, let retry {
                    #expect(retry.arrival - first.arrival >= 0.9, "\(received)")
                }
            },
            Row(name: "429 with a Retry-After past the client's bound", upstream: .serving(.status(429, times: .max, retryAfter: "3600")),
                get: .cleanError(status: 429, code: "TOOMANYREQUESTS"), head: .cleanError(status: 429, code: "TOOMANYREQUESTS"),
                boundSeconds: 5) { evidence throws in
                // Not waited for, not retried.
                #expect(evidence.upstream?.blobGets.count == 1)
            },
            Row(name: "connections refused", upstream: .refusing,
                get: .cleanError(status: 502, code: "UNKNOWN"), head: .cleanError(status: 502, code: "UNKNOWN"), boundSeconds: 10) { evidence throws in
                // The fill's attempts and the HEAD's, each retried.
                #expect(try evidence.server.metric("blobcache_upstream_transport_failures_total") ?? 0 >= Double(2 * (1 + defaults.maxRetries)))
            },
            Row(name: "a host name that does not resolve", upstream: .unresolvable,
                get: .cleanError(status: 502, code: "UNKNOWN"), head: .cleanError(status: 502, code: "UNKNOWN"), boundSeconds: 10) { evidence throws in
                #expect(try evidence.server.metric("blobcache_upstream_transport_failures_total") ?? 0 >= Double(2 * (1 + defaults.maxRetries)))
            },
        ]

        @Test(arguments: rows)
        func eachClientGetsTheExactBytesOrACleanErrorInTimeAndNothingWrongIsCached(_ row: Row) throws {
            let directory = StoreTestDirectory("e2e-upstream-fault")
            let blob = pseudoRandomBytes(count: row.blobSize, seed: UInt64(row.name.utf8.count))
            let digest = Digest.of(blob)
            let path = "/v2/faults/image/blobs/\(digest)"
            var refusing: RefusingPort?
            var upstream: FaultyUpstream?
            defer { upstream?.stop() }
            let url: String
            switch row.upstream {
            case .serving(let fault):
                upstream = try FaultyUpstream(blob: blob, fault: fault)
                url = upstream!.baseURL
            case .refusing:
                refusing = try RefusingPort()
                url = "http://\(refusing!.address)"
            case .unresolvable:
                url = "http://blobcache-fault.invalid:5000"
            }
            let server = try ServerProcess(dataDirectory: directory.data, arguments: ["--upstream", url], logFile: directory.file("blobcache.log"))
            defer { server.stop(SIGKILL) }

            let requests = Array(repeating: (method: "GET", target: path), count: 4) + [(method: "HEAD", target: path)]
            let outcomes = try ConcurrentExchanges.run(port: server.port, requests, timeoutSeconds: row.boundSeconds + 10)
            for outcome in outcomes {
                let expectation = outcome.method == "HEAD" ? row.head : row.get
                switch expectation {
                case .exactBytes where outcome.method == "HEAD":
                    #expect(outcome.status == 200 && outcome.announcedLength == blob.count, "\(row): \(outcome)")
                case .exactBytes:
                    #expect(outcome.deliveredExactly(blob), "\(row): \(outcome)")
                case .cutOff:
                    #expect(outcome.wasCutOff, "\(row): \(outcome)")
                case .cleanError(let status, let code):
                    #expect(outcome.isCleanError(status: status, code: code), "\(row): \(outcome)")
                }
                #expect(outcome.seconds <= row.boundSeconds, "\(row): \(outcome), past the bound of \(row.boundSeconds) s")
            }
            try row.check(Evidence(upstream: upstream, server: server, outcomes: outcomes))
            let mismatches = try server.metric("blobcache_mirror_digest_mismatches_total")

            // The upstream behaves now (the unresolvable name never will).
            if case .refusing = row.upstream {
                let port = refusing!.address
                refusing!.release()
                upstream = try FaultyUpstream(blob: blob, fault: .none, on: port)
            } else {
                upstream?.fault = .none
            }
            let getsBefore = upstream?.blobGets.count ?? 0
            let again = try server.request("GET", path)
            if case .unresolvable = row.upstream {
                #expect(again.status == 502, "\(row): \(again.status) \(again.text)")
                #expect(Files.storedBlobs(in: directory.data).isEmpty)
            } else {
                #expect(again.status == 200 && again.body == blob, "\(row): \(again.status), \(again.body.count) bytes")
                if case .exactBytes = row.get {
                    #expect(upstream?.blobGets.count == getsBefore, "\(row): the blob was fetched again though it was stored")
                } else {
                    #expect(upstream?.blobGets.count == getsBefore + 1, "\(row): the upstream was not asked again")
                }
                // The commit follows the last byte sent: wait for it to show.
                let deadline = monotonicSeconds() + 10
                while Files.storedBlobs(in: directory.data) != ["\(digest)"], monotonicSeconds() < deadline { pause(seconds: 0.05) }
                #expect(Files.storedBlobs(in: directory.data) == ["\(digest)"], "\(row)")
            }
            #expect(Files.storedBlobsThatDoNotVerify(in: directory.data).isEmpty, "\(row)")
            #expect(Files.leftoverTemporaries(in: directory.data).isEmpty, "\(row)")
            #expect(try server.metric("blobcache_mirror_digest_mismatches_total") == mismatches, "\(row)")
            #expect(server.stop() == .exited(0), "\(row)\n\(server.log)")
        }
    }
}
