import BlobStore
import Glibc
import Testing
import TestSupport

extension EndToEnd {
    /// `kill -9` of a server that is taking uploads and manifest pushes, filling from its
    /// upstream and serving reads at once, at random moments, round after round on the same data
    /// directory. After every restart, once the server says it has reconciled: every acknowledged
    /// blob is there and hashes to its digest (and every acknowledged tag still names its
    /// manifest), every blob file in the store verifies (nothing partial is visible), the index
    /// holds exactly the blob files, and no temporary is left.
    @Suite("EndToEnd: kill -9 under mixed load", .serialized)
    struct KillUnderLoadTests {
        static let rounds = 6

        @Test func everyAcknowledgedBlobSurvivesKillsAtRandomMomentsAndNothingPartialOrTemporaryRemains() throws {
            let seed = FaultSeed.choose(for: "KillUnderLoadTests")
            var random = SplitMix64(state: seed)
            let directory = StoreTestDirectory("e2e-kill")
            let registry = try DockerRegistry.start()
            let started = monotonicSeconds()
            let upstream = try UpstreamBlobs(sizes: (0..<84).map { _ in random.size(from: 4 << 10, to: 8 << 20) }, in: "faults/cold", of: registry)
            print("KillUnderLoadTests: \(upstream.all.count) blobs pushed upstream in \(Int((monotonicSeconds() - started) * 1000)) ms")
            let ledger = AcknowledgedBlobs()
            let arguments = ["--upstream", registry.baseURL, "--mirror-push"]
            let log = directory.file("blobcache.log")
            var readBack = 0
            var interrupted = 0

            for round in 1...Self.rounds {
                let server = try ServerProcess(dataDirectory: directory.data, arguments: arguments, logFile: log)
                try server.waitUntilReconciled()
                try expectSettled(directory.data, server, ledger, readingBackFrom: readBack, "before round \(round)")
                readBack = ledger.count

                let killAfter = Double(random.number(in: 400...1_600)) / 1_000
                let load = MixedLoad(
                    port: server.port, upstream: upstream, coldFills: upstream.all.count / Self.rounds,
                    from: monotonicSeconds() + killAfter - 0.25, ledger: ledger, repository: "faults/pushed")
                load.start(seed: seed &+ UInt64(round) << 32)
                pause(seconds: killAfter)
                load.serverWillDie()
                let status = server.stop(SIGKILL)
                load.join()
                #expect(status == .signaled(SIGKILL), "round \(round): the server ended before the kill (\(status)); its log:\n\(server.log)")
                interrupted += load.interrupted
                print("KillUnderLoadTests round \(round): \(ledger.count(of: .upload)) uploads, \(ledger.count(of: .manifest)) manifests and \(ledger.count(of: .fill)) fills acknowledged so far, \(load.interrupted) requests cut off by the kill")
            }

            let server = try ServerProcess(dataDirectory: directory.data, arguments: arguments, logFile: log)
            try server.waitUntilReconciled()
            try expectSettled(directory.data, server, ledger, readingBackFrom: readBack, "after the last kill")
            #expect(server.stop() == .exited(0))
            let verify = try ExternalTool.run(ServerProcess.executable, ["verify", "--data-dir", directory.data])
            #expect(verify.succeeded, "blobcache verify: \(verify.output)")
            let audit = try DataDirectoryAudit(dataDirectory: directory.data)
            #expect(audit.isClean, "after a clean stop and verify: \(audit.summary)")

            #expect(ledger.violations.isEmpty, "the server broke promises under load:\n\(ledger.violations.joined(separator: "\n"))")
            // Proof that there was something to lose, and that the kills landed mid-request.
            #expect(ledger.count(of: .upload) >= 20, "only \(ledger.count(of: .upload)) uploads were acknowledged")
            #expect(ledger.count(of: .manifest) >= 10, "only \(ledger.count(of: .manifest)) manifests were acknowledged")
            #expect(ledger.count(of: .fill) >= 10, "only \(ledger.count(of: .fill)) fills were acknowledged")
            #expect(interrupted >= Self.rounds, "the kills cut off only \(interrupted) requests in \(Self.rounds) rounds")
        }

        /// The checks after a restart, once `server` has reconciled: the data directory holds
        /// every acknowledged blob and only whole, verified blob files, no temporaries, and the
        /// index agrees with it; the blobs acknowledged since `readingBackFrom` come back whole
        /// through the server.
        private func expectSettled(
            _ dataDirectory: String, _ server: ServerProcess, _ ledger: AcknowledgedBlobs, readingBackFrom first: Int, _ when: String
        ) throws {
            let audit = try DataDirectoryAudit(dataDirectory: dataDirectory)
            #expect(audit.corrupt.isEmpty, "\(when): blob files that do not hash to their name: \(audit.corrupt)")
            #expect(audit.leftovers.isEmpty, "\(when): left after reconciliation: \(audit.leftovers)")
            #expect(audit.quarantined.isEmpty, "\(when): quarantined: \(audit.quarantined)")
            let acknowledged = ledger.blobs
            let lost = acknowledged.filter { audit.blobs[$0.digest] != $0.size }
            #expect(lost.isEmpty, "\(when): acknowledged blobs missing or wrong: \(lost.map { "\($0.kind) \($0.digest) (\($0.size) bytes)" })")
            #expect(try server.metric("blobcache_store_blobs") == Double(audit.blobs.count), "\(when): the index and the blob files disagree")
            for blob in acknowledged[first...] {
                let outcome = try LoopbackExchange.perform(port: server.port, "GET", blob.path)
                #expect(outcome.isComplete && outcome.status == 200 && outcome.bodyDigest == blob.digest,
                        "\(when): GET of acknowledged \(blob.kind) \(blob.digest): \(outcome.summary)")
            }
        }
    }
}
