import BlobStore
import Synchronization
import TestSupport

/// The fault tests' ledger: every blob the server acknowledged (a 201 for an upload or a tagged
/// manifest; a complete 200 whose bytes hashed to the digest for a fill), and every broken promise the
/// client threads saw (a wrong status, wrong bytes, a hang). Thread-safe: the client threads
/// record into it concurrently.
final class AcknowledgedBlobs: Sendable {
    enum Kind: String, Sendable {
        case upload
        case manifest
        case fill
    }

    struct Blob: Sendable, Hashable {
        let digest: Digest
        let size: Int
        let kind: Kind
        /// The path a GET of it takes (`/v2/<repository>/blobs/<digest>`, or `…/manifests/<tag>`).
        let path: String
    }

    private let state = Mutex<(blobs: [Digest: Blob], order: [Digest], violations: [String])>(([:], [], []))

    /// Records a blob the server acknowledged. Acknowledging it again changes nothing.
    func acknowledge(_ blob: Blob) {
        state.withLock { state in
            guard state.blobs[blob.digest] == nil else { return }
            state.blobs[blob.digest] = blob
            state.order.append(blob.digest)
        }
    }

    /// Records something the server must never do.
    func violation(_ text: String) {
        state.withLock { $0.violations.append(text) }
    }

    /// Every acknowledged blob, in the order of acknowledgement.
    var blobs: [Blob] { state.withLock { state in state.order.map { state.blobs[$0]! } } }

    var count: Int { state.withLock { $0.order.count } }

    func count(of kind: Kind) -> Int { state.withLock { state in state.blobs.values.count { $0.kind == kind } } }

    var violations: [String] { state.withLock { $0.violations } }

    /// One acknowledged blob picked with `random`, or nil when there is none yet.
    func pick(using random: inout SplitMix64) -> Blob? {
        state.withLock { state in
            guard !state.order.isEmpty else { return nil }
            return state.blobs[state.order[Int(random.next() % UInt64(state.order.count))]]
        }
    }
}
