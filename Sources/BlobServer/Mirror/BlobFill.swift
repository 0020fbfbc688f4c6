import BlobStore
import Synchronization

/// One upstream fetch of one blob, shared by every client that asks for it while it runs.
///
/// Clients join with a listener, which hears the fill's first outcome once: usually
/// `.streaming` as soon as the upstream's head arrives (the blob's length is then known, and
/// the client sends from the growing file), or why there will be no blob. A client that joins
/// later hears the same outcome at once. Thread-safe.
final class BlobFill: Sendable {
    enum Outcome: Sendable {
        /// Bytes are arriving: send them from here.
        case streaming(GrowingBlob)
        /// The blob is in the store (an upstream that did not announce the length, or
        /// announced none, is read whole before anyone is answered).
        case stored
        /// The upstream does not have it.
        case absent
        /// The upstream could not be asked, or refused after the retries: answered as any
        /// upstream failure is (`Mirror.upstreamFailure`), so a 429 reaches the client as 429.
        case upstreamFailed(UpstreamError)
        /// The upstream or the disk failed; the detail is for the client and the log.
        case failed(String)
        /// The disk stayed full after evicting: 507, as for an upload, not the upstream's fault.
        case noSpace(String)
    }

    typealias Listener = @Sendable (Outcome) -> Void

    let digest: Digest
    private let state = Mutex<State>(State())

    private struct State {
        var outcome: Outcome?
        var listeners: [Listener] = []
        var joined = 0
    }

    init(digest: Digest) {
        self.digest = digest
    }

    /// Calls `listener` with the first outcome: now (on this thread) if it is known, else on
    /// the fill's thread when it is.
    func join(_ listener: @escaping Listener) {
        let known: Outcome? = state.withLock { state in
            state.joined += 1
            if let outcome = state.outcome { return outcome }
            state.listeners.append(listener)
            return nil
        }
        if let known { listener(known) }
    }

    /// Sets the first outcome and tells the listeners; later calls do nothing.
    func publish(_ outcome: Outcome) {
        let listeners: [Listener] = state.withLock { state in
            guard state.outcome == nil else { return [] }
            state.outcome = outcome
            defer { state.listeners = [] }
            return state.listeners
        }
        for listener in listeners { listener(outcome) }
    }

    /// How many clients joined so far.
    var joined: Int { state.withLock { $0.joined } }

    /// The growing blob, when the fill is streaming.
    var growing: GrowingBlob? {
        state.withLock { state in
            if case .streaming(let growing) = state.outcome { return growing }
            return nil
        }
    }
}
