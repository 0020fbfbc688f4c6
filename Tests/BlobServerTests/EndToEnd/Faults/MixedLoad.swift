import BlobStore
import Synchronization
import TestSupport

/// The kill test's traffic against one server process: client threads that upload (monolithic
/// `POST ?digest=`, and `POST`+`PATCH`+`PUT` sessions) random bytes whose digests they compute,
/// push tagged manifests, fill cold blobs through the mirror, and read acknowledged blobs back,
/// all at once, each request on its own connection, until the server is killed.
///
/// Acknowledged blobs go to the ledger. Until `serverWillDie`, a request that breaks or gets an
/// unexpected answer is a violation; afterwards a broken request is one the kill cut off
/// (`interrupted`), and the threads end. A complete answer is judged the same either way: the
/// kill cannot make a wrong one right. `start`, `serverWillDie` and `join` are for the test's
/// thread; the rest is thread-safe.
final class MixedLoad: Sendable {
    enum Role {
        case monolithicUpload, sessionUpload, manifestPush, fill, read
    }

    /// One thread each; fills take two, as cold fills are the slow path worth racing.
    static let roles: [Role] = [.monolithicUpload, .sessionUpload, .manifestPush, .fill, .fill, .read]

    private let client: OCIBlobClient
    private let upstream: UpstreamBlobs
    private let ledger: AcknowledgedBlobs
    /// Where uploads go (the mirror takes them with `--mirror-push`).
    private let repository: String
    /// Cold fills this round may still start, so the upstream's blobs last for every round.
    private let coldFillsLeft: Atomic<Int>
    /// When cold fills start (monotonic seconds): the test puts it shortly before the kill, so
    /// that fills are in flight, at every stage, when it lands.
    private let coldFillsFrom: Double
    private let killing = Atomic<Bool>(false)
    private let interruptedCount = Atomic<Int>(0)
    private let threads = Mutex<[SystemThread]>([])

    /// Uploads are 4 KiB to 4 MiB.
    static let uploadSizes = (lower: 4 << 10, upper: 4 << 20)

    init(port: UInt16, upstream: UpstreamBlobs, coldFills: Int, from: Double, ledger: AcknowledgedBlobs, repository: String) {
        client = OCIBlobClient(port: port)
        coldFillsLeft = Atomic(coldFills)
        coldFillsFrom = from
        self.upstream = upstream
        self.ledger = ledger
        self.repository = repository
    }

    /// Starts one thread per role, each with its own generator derived from `seed`.
    func start(seed: UInt64) {
        for (index, role) in Self.roles.enumerated() {
            let thread = SystemThread(name: "fault-load-\(index)") { [self] in
                var random = SplitMix64(state: seed &+ UInt64(index) &* 0x9E37_79B9)
                while !killing.load(ordering: .acquiring) {
                    do { try perform(role, &random) } catch { ledger.violation("\(role): \(error)") }
                }
            }
            threads.withLock { $0.append(thread) }
        }
    }

    /// Call just before killing the server: from now on broken requests are expected.
    func serverWillDie() {
        killing.store(true, ordering: .releasing)
    }

    /// Waits for every thread to end (call after the server died).
    func join() {
        for thread in threads.withLock({ $0 }) { thread.join() }
    }

    /// Requests the kill cut off mid-way (not those that found it dead).
    var interrupted: Int { interruptedCount.load(ordering: .relaxed) }

    private func perform(_ role: Role, _ random: inout SplitMix64) throws {
        switch role {
        case .monolithicUpload: try uploadWhole(random.size(from: Self.uploadSizes.lower, to: Self.uploadSizes.upper))
        case .sessionUpload: try uploadInChunks(random.size(from: Self.uploadSizes.lower, to: Self.uploadSizes.upper), &random)
        case .manifestPush: try pushManifest(&random)
        case .fill: try fillCold(&random)
        case .read: try readAcknowledged(&random)
        }
    }

    /// `POST /v2/<name>/blobs/uploads/?digest=` with the whole blob.
    private func uploadWhole(_ size: Int) throws {
        let bytes = randomBytes(count: size)
        let digest = Digest.of(bytes)
        try settleUpload(client.uploadWhole(bytes, digest: digest, to: repository), digest, size: size)
    }

    /// `POST` for a session, one to three `PATCH`es (declared or streamed), then `PUT ?digest=`.
    private func uploadInChunks(_ size: Int, _ random: inout SplitMix64) throws {
        let bytes = randomBytes(count: size)
        let digest = Digest.of(bytes)
        let framing: OCIBlobClient.Framing = random.next() % 2 == 0 ? .declared : .streamed
        try settleUpload(
            client.uploadInChunks(bytes, digest: digest, chunks: random.number(in: 1...3), framing: framing, to: repository), digest, size: size)
    }

    /// `PUT /v2/<name>/manifests/<tag>` of a small image manifest naming an acknowledged blob. Its
    /// 201 acknowledges the manifest and the tag, which the registry keeps in metadata files
    /// written through temporaries: a kill can leave one for the restart to clean up.
    private func pushManifest(_ random: inout SplitMix64) throws {
        guard let layer = ledger.pick(using: &random) else { return pause(seconds: 0.01) }
        let tag = "t" + String(random.next(), radix: 16)
        let body = Array("""
            {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",\
            "config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"\(Digest.of(Array("{}".utf8)))","size":2},\
            "layers":[{"mediaType":"application/octet-stream","digest":"\(layer.digest)","size":\(layer.size)}]}
            """.utf8)
        let digest = Digest.of(body)
        let outcome = try client.putManifest(body, mediaType: "application/vnd.oci.image.manifest.v1+json", tag: tag, to: repository)
        guard settled(outcome, expecting: 201, "PUT of manifest \(tag)") else { return }
        if outcome.head?.header("Docker-Content-Digest") != digest.description {
            ledger.violation("the 201 for manifest \(digest) names \(outcome.head?.header("Docker-Content-Digest") ?? "no digest")")
        }
        ledger.acknowledge(AcknowledgedBlobs.Blob(digest: digest, size: body.count, kind: .manifest, path: "/v2/\(repository)/manifests/\(tag)"))
    }

    /// From `coldFillsFrom`, while the round's budget lasts, GETs a blob the mirror has not been
    /// asked for (the store lacks it): the fill's 200, complete and hashing to the digest, is its
    /// acknowledgement. Before, or with the budget spent, reads.
    private func fillCold(_ random: inout SplitMix64) throws {
        guard monotonicSeconds() >= coldFillsFrom, coldFillsLeft.subtract(1, ordering: .relaxed).newValue >= 0,
              let blob = upstream.takeCold() else {
            return try readAcknowledged(&random)
        }
        let outcome = try client.get(blob.path)
        guard settled(outcome, expecting: 200, "fill of \(blob.digest)") else {
            upstream.giveBack(blob)
            return
        }
        guard outcome.bodyLength == blob.size, outcome.bodyDigest == blob.digest else {
            return ledger.violation("the fill of \(blob.digest) answered \(outcome.bodyLength) bytes hashing to \(outcome.bodyDigest)")
        }
        ledger.acknowledge(AcknowledgedBlobs.Blob(digest: blob.digest, size: blob.size, kind: .fill, path: blob.path))
    }

    /// GETs an acknowledged blob: it must come back whole and right.
    private func readAcknowledged(_ random: inout SplitMix64) throws {
        guard let blob = ledger.pick(using: &random) else { return pause(seconds: 0.01) }
        let outcome = try client.get(blob.path)
        guard settled(outcome, expecting: 200, "read of acknowledged \(blob.kind) \(blob.digest)") else { return }
        if outcome.bodyLength != blob.size || outcome.bodyDigest != blob.digest {
            ledger.violation("a read of acknowledged \(blob.digest) got \(outcome.bodyLength) bytes hashing to \(outcome.bodyDigest)")
        }
    }

    /// Acknowledges the blob when the upload's last step got its 201 (an upload returns an
    /// earlier step only when that step failed).
    private func settleUpload(_ step: OCIBlobClient.Step, _ digest: Digest, size: Int) {
        guard settled(step.outcome, expecting: step.expected, "\(step.name) of \(digest)") else { return }
        let outcome = step.outcome
        if outcome.head?.header("Docker-Content-Digest") != digest.description {
            ledger.violation("the 201 for \(digest) names \(outcome.head?.header("Docker-Content-Digest") ?? "no digest")")
        }
        ledger.acknowledge(AcknowledgedBlobs.Blob(digest: digest, size: size, kind: .upload, path: "/v2/\(repository)/blobs/\(digest)"))
    }

    /// Whether `outcome` is the complete answer `status`. Anything else is a violation, except
    /// a request the kill broke, or one that found nobody listening after it.
    private func settled(_ outcome: LoopbackExchange.Outcome, expecting status: Int, _ what: String) -> Bool {
        if outcome.isComplete && outcome.status == status && !outcome.timedOut { return true }
        if !outcome.isComplete && !outcome.timedOut && killing.load(ordering: .acquiring) {
            if !outcome.refused { interruptedCount.add(1, ordering: .relaxed) }
            return false
        }
        ledger.violation("\(what): \(outcome.summary)")
        return false
    }
}
