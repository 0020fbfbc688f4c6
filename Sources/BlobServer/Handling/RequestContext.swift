import Glibc

/// A request as handlers see it: the parsed head and facts about the connection.
public struct RequestContext: Sendable {
    public var head: HTTPRequestHead
    /// Whether the listener is on a loopback address (writes are open there by default).
    public var listenerIsLoopback: Bool
    /// Monotonic seconds, for upload-session expiry.
    public var now: UInt64
    /// The connection's socket, valid while the handler runs on the loop (-1: none, in tests).
    let socket: Int32

    public init(head: HTTPRequestHead, listenerIsLoopback: Bool, now: UInt64) {
        self.init(head: head, listenerIsLoopback: listenerIsLoopback, now: now, socket: -1)
    }

    init(head: HTTPRequestHead, listenerIsLoopback: Bool, now: UInt64, socket: Int32) {
        self.head = head
        self.listenerIsLoopback = listenerIsLoopback
        self.now = now
        self.socket = socket
    }

    /// The client's address, asked of the kernel on demand (most requests never need it).
    /// Call on the loop, while the handler runs.
    var remoteAddress: SocketAddress? {
        guard socket >= 0 else { return nil }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(socket, $0, &length) }
        }
        return status == 0 ? SocketAddress(storage: storage) : nil
    }
}
