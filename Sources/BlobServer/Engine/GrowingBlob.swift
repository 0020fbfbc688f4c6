import BlobStore
import Glibc
import Synchronization

/// A blob that one thread is still writing (a fill from an upstream) while connections already
/// send it: each sends the bytes written so far and waits for more. The last byte of every
/// range a connection sends stays back until the whole blob has verified, so a client never
/// sees a clean end of a body whose digest turns out wrong: on `fail` every connection still
/// sending it is cut off instead.
///
/// Ownership: holds its own duplicate of the writer's descriptor (closed at deinit), so
/// connections can go on reading it after the writer commits (the same inode, now linked) or
/// abandons. Threading: the writer calls `advance`, `verify` and `fail` from its thread;
/// event loops call `availability` from theirs. Thread-safe.
public final class GrowingBlob: Sendable {
    public let digest: Digest
    /// The blob's length, as the upstream announced it.
    public let size: UInt64
    /// Readable bytes `0..<written` (borrowed by connections while they hold this object).
    let descriptor: Int32
    private let state = Mutex(State())

    private struct State {
        var written: UInt64 = 0
        var outcome = Outcome.growing
        /// Connections waiting for more bytes or an outcome; each is woken once.
        var waiters: [(loop: EventLoop, token: UInt64)] = []

        mutating func takeWaiters() -> [(loop: EventLoop, token: UInt64)] {
            guard !waiters.isEmpty else { return [] }
            defer { waiters.removeAll() }
            return waiters
        }
    }

    enum Outcome: Equatable {
        case growing
        /// Every byte is written and the digest verified.
        case verified
        /// The fill broke or the digest did not match: the bytes are not to be trusted.
        case failed
    }

    /// What a connection may do with its next range of this blob.
    enum Availability: Equatable {
        /// Send up to (not including) this offset.
        case sendable(upTo: UInt64)
        /// Nothing more yet: the connection is registered and will be woken.
        case waiting
        case failed
    }

    /// Duplicates `descriptor` (the writer keeps its own). Throws when the process is out of
    /// descriptors.
    public init(digest: Digest, size: UInt64, duplicating descriptor: Int32) throws(SystemError) {
        let duplicate = dup(descriptor)
        guard duplicate >= 0 else { throw SystemError(call: "dup", path: "a fill's temporary file", errno: errno) }
        self.digest = digest
        self.size = size
        self.descriptor = duplicate
    }

    deinit {
        Glibc.close(descriptor)
    }

    /// Bytes `0..<written` are on the file. Wakes waiting connections.
    public func advance(to written: UInt64) {
        let waiters = state.withLock { state in
            state.written = max(state.written, min(written, size))
            return state.takeWaiters()
        }
        wake(waiters)
    }

    /// The whole blob verified: held-back bytes may go.
    public func verify() {
        let waiters = state.withLock { state in
            state.written = size
            state.outcome = .verified
            return state.takeWaiters()
        }
        wake(waiters)
    }

    /// The bytes will never verify: connections sending them are to be cut off.
    public func fail() {
        let waiters = state.withLock { state in
            state.outcome = .failed
            return state.takeWaiters()
        }
        wake(waiters)
    }

    /// For a connection at `offset` of a range that ends before `end`: how far it may send now.
    /// Until the blob verifies, the range's last byte is held back. When nothing is sendable
    /// the connection (`token` on `loop`) is registered, in the same critical section, to be
    /// woken by the next change, so no wake-up is lost.
    func availability(from offset: UInt64, rangeEnd end: UInt64, loop: EventLoop, token: UInt64) -> Availability {
        state.withLock { state in
            switch state.outcome {
            case .failed: return .failed
            case .verified: return .sendable(upTo: end)
            case .growing:
                let limit = min(state.written, end - 1)
                if limit > offset { return .sendable(upTo: limit) }
                state.waiters.append((loop, token))
                return .waiting
            }
        }
    }

    private func wake(_ waiters: [(loop: EventLoop, token: UInt64)]) {
        for waiter in waiters { waiter.loop.post(waiter.token, .growingBlobChanged) }
    }
}
