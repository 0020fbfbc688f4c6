import BlobStore
import Glibc
import Synchronization

/// `count` clients that send one request each and then read the answer at `bytesPerSecond`
/// apiece, with a small receive buffer so the kernel cannot hide the slowness by buffering,
/// and an Ethernet-sized MSS (1448), so the server's kernel buffers for them what it would for
/// clients across a network.
/// `threads` threads drive them, each polling its share of the sockets every 100 ms and reading
/// what the rate allows.
///
/// Lifecycle: reading when `init` returns; `stop()` (call it in a `defer`) joins the threads,
/// closes every socket and returns what each client read. Thread-safe.
final class SlowReaders: Sendable {
    /// What one client read.
    struct Progress: Sendable {
        /// Bytes read, head included.
        var bytes = 0
        /// The status of the response head, once it arrived.
        var status: Int?
        /// The server closed (FIN or RST) the connection.
        var closed = false
    }

    private let sockets: [Int32]
    private let progress: Mutex<[Progress]>
    private let stopping = Atomic<Bool>(false)
    private let threads = Mutex<[SystemThread]>([])

    init(port: UInt16, count: Int, request: String, bytesPerSecond: Int, receiveBufferBytes: Int32, threads threadCount: Int) throws {
        var sockets: [Int32] = []
        do {
            for _ in 0..<count {
                let socket = try connectLoopback(port: port, receiveBufferBytes: receiveBufferBytes, maximumSegmentBytes: 1448)
                sockets.append(socket)
                guard sendAll(socket, Array(request.utf8)) else { throw EndToEndFailure("send: errno \(errno)") }
            }
        } catch {
            for socket in sockets { close(socket) }
            throw error
        }
        self.sockets = sockets
        progress = Mutex(Array(repeating: Progress(), count: count))
        let shares = (0..<threadCount).map { thread in Array(stride(from: thread, to: count, by: threadCount)) }
        threads.withLock { threads in
            threads = shares.map { share in
                SystemThread(name: "test-slow-read") { [self] in read(share, bytesPerSecond: bytesPerSecond) }
            }
        }
    }

    /// Each client's progress so far, by index.
    var snapshot: [Progress] { progress.withLock { $0 } }

    /// Stops reading, closes every socket; what each client read. Call once.
    @discardableResult
    func stop() -> [Progress] {
        stopping.store(true, ordering: .relaxed)
        for thread in threads.withLock({ $0 }) { thread.join() }
        for socket in sockets { close(socket) }
        return snapshot
    }

    /// On a thread: every 100 ms, each socket of `share` gets what it may read by now at
    /// `bytesPerSecond` since the thread started.
    private func read(_ share: [Int], bytesPerSecond: Int) {
        let start = monotonicSeconds()
        var consumed = [Int](repeating: 0, count: share.count)
        var heads = [[UInt8]](repeating: [], count: share.count)
        var ended = [Bool](repeating: false, count: share.count)
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while !stopping.load(ordering: .relaxed) {
            pause(seconds: 0.1)
            let allowed = Int((monotonicSeconds() - start) * Double(bytesPerSecond))
            for (position, index) in share.enumerated() where !ended[position] && consumed[position] < allowed {
                let want = min(allowed - consumed[position], chunk.count)
                let count = chunk.withUnsafeMutableBytes { recv(sockets[index], $0.baseAddress, want, Int32(MSG_DONTWAIT)) }
                if count < 0 && (errno == EAGAIN || errno == EINTR) { continue }
                if count <= 0 {
                    ended[position] = true
                    progress.withLock { $0[index].closed = true }
                    continue
                }
                consumed[position] += count
                if heads[position].count < 32 { heads[position] += chunk[..<min(count, 32)] }
                let status = responseStatus(atStartOf: heads[position])
                progress.withLock { all in
                    all[index].bytes = consumed[position]
                    all[index].status = status
                }
            }
        }
    }
}
