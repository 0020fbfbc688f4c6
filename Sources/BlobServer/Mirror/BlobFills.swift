import BlobStore
import Synchronization

/// Single-flight blob fills: however many clients ask for a blob the store lacks, one upstream
/// GET fetches it. The bytes go through a verifying `BlobWriter` into a temporary file, which
/// every waiting client sends from as it grows (`GrowingBlob`); the last byte of any response
/// goes out only once the digest matched and the blob is committed (durable). A mismatch commits nothing, cuts every client off
/// and is counted; the next request starts a new fill. A client that goes away does not stop
/// the fill.
///
/// Fills run on two pools, whose thread counts together cap concurrent fills (each holds the
/// thread's scratch buffer and one upstream connection: the fill share of the memory budget);
/// fills beyond the cap wait in their pool's queue. Fills from the upstream itself run on
/// `pool`; fills through peers on `relayPool`. A relay waits for a peer's fill from its
/// upstream, which never waits for anyone: so relays that fill every thread of a busy cluster
/// can never hold up the fills they wait for. Thread-safe.
final class BlobFills: Sendable {
    private let store: BlobStore
    private let pool: WorkerPool
    /// nil without peers.
    private let relayPool: WorkerPool?
    private let counters: MirrorCounters
    private let logger: Logger
    private let inFlight = Mutex<[Digest: BlobFill]>([:])

    init(store: BlobStore, pool: WorkerPool, relayPool: WorkerPool?, counters: MirrorCounters, logger: Logger) {
        self.store = store
        self.pool = pool
        self.relayPool = relayPool
        self.counters = counters
        self.logger = logger
    }

    /// Joins the fill of `digest` from `target`, starting one if none runs, and calls `listener`
    /// with its first outcome (see `BlobFill.Outcome`). A blob the store has by now is
    /// `.stored` without a fill: a fill leaves the table only after its commit, so a request
    /// that missed the store and then finds no fill sees the committed blob.
    func fetch(_ digest: Digest, from target: UpstreamTarget, _ listener: @escaping BlobFill.Listener) {
        enum Decision { case joined(BlobFill), started(BlobFill), stored }
        let decision: Decision = inFlight.withLock { fills in
            if let fill = fills[digest] { return .joined(fill) }
            if store.isIndexed(digest) { return .stored }
            let fill = BlobFill(digest: digest)
            fills[digest] = fill
            return .started(fill)
        }
        switch decision {
        case .stored:
            listener(.stored)
        case .joined(let fill):
            counters.waiterJoined()
            fill.join(listener)
        case .started(let fill):
            counters.fillStarted()
            counters.waiterJoined()
            fill.join(listener)
            let chosen = target.upstream is PeerRoutedUpstream ? relayPool ?? pool : pool
            chosen.submit { [self] context in run(fill, from: target, scratch: context.scratch) }
        }
    }

    /// The growing blob of a fill in flight for `digest`, if it is streaming.
    func growing(_ digest: Digest) -> GrowingBlob? {
        inFlight.withLock { $0[digest] }?.growing
    }

    /// On a fill thread: transfers the blob, then leaves the table before anyone hears the end,
    /// so a client that is cut off (or told of a failure) and asks again starts a new fill.
    private func run(_ fill: BlobFill, from target: UpstreamTarget, scratch: UnsafeMutableRawBufferPointer) {
        var growing: GrowingBlob? = nil
        var peersLied = false
        let outcome = transfer(fill, from: target, scratch: scratch, growing: &growing, peersLied: &peersLied)
        inFlight.withLock { fills in
            if fills[fill.digest] === fill { fills[fill.digest] = nil }
        }
        let succeeded: Bool
        if case .stored = outcome { succeeded = true } else { succeeded = false }
        counters.fillEnded(succeeded: succeeded, waiters: fill.joined)
        if !succeeded { growing?.fail() }
        fill.publish(outcome)
        // The clients streaming the bad bytes were cut off; the blob comes again, from the
        // upstream itself, for them to find when they retry.
        if peersLied, let routed = target.upstream as? PeerRoutedUpstream {
            fetch(fill.digest, from: target.replacing(upstream: routed.upstream)) { _ in }
        }
    }

    /// GETs the blob and streams it into a verifying writer, publishing `.streaming` as soon as
    /// the length is known; returns the final outcome (`.stored` once committed). Sets
    /// `peersLied` when bytes from peers did not verify.
    private func transfer(
        _ fill: BlobFill, from target: UpstreamTarget, scratch: UnsafeMutableRawBufferPointer, growing: inout GrowingBlob?,
        peersLied: inout Bool
    ) -> BlobFill.Outcome {
        let digest = fill.digest
        func log(_ level: LogLevel, _ message: String, _ why: String) {
            logger.log(level, message, ["digest": .string(digest.description), "upstream": .string(target.namespace), "error": .string(why)])
        }
        let path = "/v2/\(target.repository)/blobs/\(digest)"
        let response: any UpstreamResponse
        do {
            response = try target.upstream.send(UpstreamRequest(method: .get, path: path, repository: target.repository))
        } catch {
            log(.warn, "blob fill failed", error.description)
            return .upstreamFailed(error)
        }
        guard response.status == 200 else {
            response.abandon()
            if response.status == 404 { return .absent }
            log(.warn, "blob fill refused", "the upstream answered \(response.status)")
            return .failed("the upstream answered \(response.status)")
        }
        let size = response.contentLength
        var responseEnded = false
        do {
            let writer = try store.makeWriter(expected: digest, expectedSize: size)
            // An empty body has no last byte to hold back: it is answered once it verified.
            if let size, size > 0 {
                let stream = try GrowingBlob(digest: digest, size: size, duplicating: writer.descriptor)
                growing = stream
                fill.publish(.streaming(stream))
            }
            while true {
                let count = try readBody(response, into: scratch)
                if count == 0 { break }
                try writer.write(UnsafeRawBufferPointer(rebasing: scratch[0..<count]))
                growing?.advance(to: writer.bytesWritten)
            }
            response.finish()
            responseEnded = true
            // The held-back bytes go out once the blob is verified, fsynced and linked: a client
            // that got the whole body can count on the store having it, even across a kill -9.
            try writer.commit()
            growing?.verify()
            (response as? PeerFailoverResponse)?.confirmPeers()
            return .stored
        } catch let error as FillError {
            if !responseEnded { response.abandon() }
            log(.warn, "blob fill broke", error.upstream.description)
            return .failed(error.upstream.description)
        } catch let error as BlobStoreError {
            if !responseEnded { response.abandon() }
            switch error {
            case .digestMismatch, .sizeMismatch:
                counters.digestMismatch()
                if let relayed = response as? PeerFailoverResponse { peersLied = relayed.blamePeers() }
            default: break
            }
            log(.error, "blob fill rejected", error.description)
            if case .insufficientStorage = error { return .noSpace(error.description) }
            return .failed(error.description)
        } catch {
            if !responseEnded { response.abandon() }
            return .failed("\(error)")
        }
    }

    /// The upstream's failure, kept apart from the store's.
    private struct FillError: Error {
        let upstream: UpstreamError
    }

    private func readBody(_ response: any UpstreamResponse, into scratch: UnsafeMutableRawBufferPointer) throws(FillError) -> Int {
        do { return try response.read(into: scratch) } catch { throw FillError(upstream: error) }
    }
}
