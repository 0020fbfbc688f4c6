import BlobStore
import Glibc
import Synchronization
@testable import BlobServer

/// A TCP server for test doubles that must sit on a given loopback address (a fake peer on
/// 127.0.0.10:P beside real nodes on 127.0.0.2:P), which `FakeHTTPServer` cannot: it listens
/// only on 127.0.0.1.
///
/// It accepts on a thread of its own and runs `serve` for each connection on another thread.
/// `serve` owns nothing: the server closes the connection's socket when `serve` returns.
/// Lifecycle: listening when `init` returns; `stop()` (call it in a `defer`) makes `stopping`
/// readable, shuts every connection down (a blocked send or receive returns), joins every
/// thread and closes every socket.
final class LoopbackTCPServer: Sendable {
    /// One accepted connection, as `serve` sees it.
    struct Connection: Sendable {
        let socket: Int32
        /// Readable once `stop()` has begun: poll it beside the socket to leave promptly.
        let stopping: Int32

        /// The next request head, up to its blank line, from `pending` and then the socket;
        /// what follows the head stays in `pending` (test doubles here expect no request
        /// bodies). Nil when the client left or the server is stopping.
        func nextHead(pending: inout [UInt8]) -> String? {
            let blankLine: [UInt8] = [13, 10, 13, 10]
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                if let end = firstIndex(of: blankLine, in: pending) {
                    defer { pending.removeFirst(end + blankLine.count) }
                    return String(decoding: pending[..<end], as: UTF8.self)
                }
                var descriptors = [
                    pollfd(fd: stopping, events: Int16(POLLIN), revents: 0),
                    pollfd(fd: socket, events: Int16(POLLIN), revents: 0),
                ]
                guard poll(&descriptors, 2, -1) >= 0 || errno == EINTR else { return nil }
                if descriptors[0].revents != 0 { return nil }
                guard descriptors[1].revents != 0 else { continue }
                let count = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
                guard count > 0 else { return nil }
                pending += chunk[..<count]
            }
        }
    }

    /// Where it listens; the kernel's port when `init` was given port 0.
    let address: SocketAddress
    private let listener: Int32
    private let wakeRead: Int32
    private let wakeWrite: Int32
    /// Live connection sockets, and every thread started, for `stop()`.
    private let state = Mutex<(sockets: Set<Int32>, threads: [SystemThread], stopped: Bool)>(([], [], false))

    init(listeningOn requested: SocketAddress, serve: @escaping @Sendable (Connection) -> Void) throws {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw EndToEndFailure("pipe: errno \(errno)") }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { throw EndToEndFailure("socket: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = requested.withSockaddr { bind(socket, $0, $1) == 0 } && listen(socket, 128) == 0
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) == 0 }
        }
        guard bound, named else {
            let code = errno
            for descriptor in ends + [socket] { close(descriptor) }
            throw EndToEndFailure("cannot listen on \(requested): errno \(code)")
        }
        listener = socket
        wakeRead = ends[0]
        wakeWrite = ends[1]
        address = SocketAddress(storage: storage)
        // Started under the lock, so it is first in the list before it can add any other.
        state.withLock { state in state.threads.append(SystemThread(name: "test-accept") { [self] in acceptLoop(serve) }) }
    }

    /// Stops serving; see the type's lifecycle. Idempotent.
    func stop() {
        let alreadyStopped = state.withLock { state in
            defer { state.stopped = true }
            return state.stopped
        }
        guard !alreadyStopped else { return }
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
        // The accept thread is first in the list; once it is joined no thread is added.
        let acceptor = state.withLock { $0.threads[0] }
        acceptor.join()
        let connectionThreads = state.withLock { state in
            for socket in state.sockets { shutdown(socket, Int32(SHUT_RDWR)) }
            return state.threads.dropFirst()
        }
        for thread in connectionThreads { thread.join() }
        close(listener)
        close(wakeRead)
        close(wakeWrite)
    }

    private func acceptLoop(_ serve: @escaping @Sendable (Connection) -> Void) {
        while true {
            var descriptors = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            guard poll(&descriptors, 2, -1) >= 0 || errno == EINTR else { return }
            if descriptors[1].revents != 0 { return }
            guard descriptors[0].revents != 0 else { continue }
            let socket = accept(listener, nil, nil)
            guard socket >= 0 else { continue }
            _ = fcntl(socket, F_SETFD, FD_CLOEXEC)
            let connection = Connection(socket: socket, stopping: wakeRead)
            state.withLock { running in
                running.sockets.insert(socket)
                running.threads.append(SystemThread(name: "test-conn") { [self] in
                    serve(connection)
                    // Under the lock: `stop()` may be shutting this socket down right now, and
                    // the number must not be reused meanwhile.
                    state.withLock { finished in
                        finished.sockets.remove(socket)
                        close(socket)
                    }
                })
            }
        }
    }
}

/// Sends all of `bytes` on `socket` (blocking); false when the connection failed first.
func sendAll(_ socket: Int32, _ bytes: some Collection<UInt8>) -> Bool {
    var pending = Array(bytes)[...]
    while !pending.isEmpty {
        let count = pending.withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if count < 0 && errno == EINTR { continue }
        guard count > 0 else { return false }
        pending = pending.dropFirst(count)
    }
    return true
}
