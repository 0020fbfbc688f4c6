import BlobStore
import Glibc
import Synchronization

/// A slowloris attack: `count` connections that each send the start of a request head, then
/// one more byte of it every `dribbleSeconds`, and never finish it. One thread dribbles and
/// watches for the server ending each connection (EOF or RST), noting when, counted from that
/// connection's first byte, and the status of the response that came before the end.
///
/// Lifecycle: connected and dribbling when `init` returns; `stop()` (call it in a `defer`)
/// joins the thread and closes the sockets still open. Thread-safe.
final class SlowlorisConnections: Sendable {
    struct Ending: Sendable {
        /// Seconds from the connection's first byte to its end.
        let secondsAfterFirstByte: Double
        /// The status of the response that came before the end; nil when none did.
        let status: Int?
    }

    private struct State {
        /// Set when the thread saw the server end the connection (and closed the socket).
        var endings: [Ending?]
        var stopping = false
        var thread: SystemThread?
    }

    private let sockets: [Int32]
    /// `monotonicSeconds()` when each connection sent its first bytes.
    private let firstByteAt: [Double]
    private let dribbleSeconds: Double
    private let state: Mutex<State>

    /// Opens `count` connections to 127.0.0.1:`port`, sends `partialHead` on each, and starts
    /// dribbling.
    init(port: UInt16, count: Int, partialHead: String, dribbleSeconds: Double) throws {
        var sockets: [Int32] = []
        var firstByteAt: [Double] = []
        do {
            for _ in 0..<count {
                let socket = try connectLoopback(port: port)
                sockets.append(socket)
                guard sendAll(socket, Array(partialHead.utf8)) else { throw EndToEndFailure("send: errno \(errno)") }
                firstByteAt.append(monotonicSeconds())
            }
        } catch {
            for socket in sockets { close(socket) }
            throw error
        }
        self.sockets = sockets
        self.firstByteAt = firstByteAt
        self.dribbleSeconds = dribbleSeconds
        state = Mutex(State(endings: Array(repeating: nil, count: count)))
        state.withLock { $0.thread = SystemThread(name: "test-slowloris") { [self] in drive() } }
    }

    /// How each connection ended, by index; nil while it is open.
    var endings: [Ending?] { state.withLock { $0.endings } }

    /// Connections the server has not ended yet.
    var openCount: Int { endings.count { $0 == nil } }

    /// Waits until the server ended every connection; false when `timeoutSeconds` passed first.
    func waitUntilAllEnded(timeoutSeconds: Double) -> Bool {
        let deadline = monotonicSeconds() + timeoutSeconds
        while openCount > 0 {
            guard monotonicSeconds() < deadline else { return false }
            pause(seconds: 0.1)
        }
        return true
    }

    /// Ends the attack. Idempotent.
    func stop() {
        let thread = state.withLock { state in
            state.stopping = true
            defer { state.thread = nil }
            return state.thread
        }
        guard let thread else { return }
        thread.join()
        for (socket, ending) in zip(sockets, endings) where ending == nil { close(socket) }
    }

    /// On the thread: one byte to every open connection each `dribbleSeconds`; in between,
    /// reads what the server sends and notes each end.
    private func drive() {
        var open = Set(sockets.indices)
        var received = [[UInt8]](repeating: [], count: sockets.count)
        var nextDribble = monotonicSeconds() + dribbleSeconds
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !state.withLock({ $0.stopping }) {
            let watched = Array(open)
            var descriptors = watched.map { pollfd(fd: sockets[$0], events: Int16(POLLIN), revents: 0) }
            let wait = Int32(max(0, min(0.2, nextDribble - monotonicSeconds())) * 1000)
            guard poll(&descriptors, nfds_t(descriptors.count), wait) >= 0 || errno == EINTR else { return }
            for (index, descriptor) in zip(watched, descriptors) where descriptor.revents != 0 {
                let count = chunk.withUnsafeMutableBytes { recv(sockets[index], $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                if count > 0 {
                    received[index] += chunk[..<count]
                    continue
                }
                if count < 0 && (errno == EAGAIN || errno == EINTR) { continue }
                let ending = Ending(secondsAfterFirstByte: monotonicSeconds() - firstByteAt[index], status: responseStatus(atStartOf: received[index]))
                open.remove(index)
                state.withLock { $0.endings[index] = ending }
                close(sockets[index])
            }
            if monotonicSeconds() >= nextDribble {
                var byte = UInt8(ascii: "a")
                for index in open { _ = send(sockets[index], &byte, 1, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
                nextDribble += dribbleSeconds
            }
        }
    }
}
