import BlobStore
import CBlobSys
import Glibc

/// One connection to an upstream origin, direct or tunnelled through a proxy, plain or TLS,
/// with its receive buffer.
///
/// Memory per connection, which the caller budgets:
/// - the receive buffer, `receiveBufferSize` (64 KiB), allocated once when the connection
///   opens and freed when it closes; a response head must fit in it;
/// - for TLS, OpenSSL's state, measured with OpenSSL 3.0 and P-256 certificates: about 46 KiB
///   (the session, the peer's chain, record buffers), idle or reading; more for long RSA
///   chains. SSL_MODE_RELEASE_BUFFERS keeps it about 33 KiB lower than OpenSSL's default;
/// - the kernel's socket buffers, outside the process's heap.
/// So 64 KiB for plain HTTP and about 110 KiB for TLS.
///
/// Ownership: exactly one owner at a time: the pool while idle, one exchange or response while
/// in use; ownership moves under the pool's lock, hence `@unchecked Sendable`. The connection
/// owns its socket and TLS session; both are closed when it goes away.
final class UpstreamConnection: @unchecked Sendable {
    static let receiveBufferSize = 64 * 1024

    let origin: UpstreamOrigin
    private let socket: FileDescriptor
    private var tls: TLSClientSession?
    private let buffer: UnsafeMutableRawBufferPointer
    private var readIndex = 0
    private var writeIndex = 0
    /// When the connection last went back to the pool (monotonic nanoseconds).
    var idleSince: UInt64 = 0
    /// Whether it carried a response before: a reused connection that fails before answering
    /// was probably closed by the server while idle (a stale keep-alive).
    var hasBeenReused = false

    private init(origin: UpstreamOrigin, socket: consuming FileDescriptor) {
        self.origin = origin
        self.socket = socket
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.receiveBufferSize, alignment: 16)
    }

    deinit {
        tls = nil
        buffer.deallocate()
    }

    /// Connects to `origin`: TCP to the origin or to `proxy` (then `CONNECT`), then TLS for
    /// https, all within `deadline`; from `sourceHost` when given.
    static func open(
        to origin: UpstreamOrigin, through proxy: ProxyRoute?, tls context: TLSClientContext, sourceHost: SocketAddress.Host? = nil,
        deadline: IODeadline
    ) throws(UpstreamConnectionFailure) -> UpstreamConnection {
        let socket = try TCPConnector.connect(
            host: proxy?.host ?? origin.host, port: proxy?.port ?? origin.port, sourceHost: sourceHost, deadline: deadline)
        let connection = UpstreamConnection(origin: origin, socket: socket)
        if let proxy { try connection.openTunnel(through: proxy, deadline: deadline) }
        if origin.scheme == .https {
            connection.tls = try TLSClientSession(
                context: context, descriptor: connection.socket.rawValue, host: origin.host, deadline: deadline)
        }
        return connection
    }

    /// Bytes received and not yet consumed. Valid until the next `fill` or `consume`.
    var unread: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: buffer[readIndex..<writeIndex])
    }

    /// Marks the first `count` unread bytes as used.
    func consume(_ count: Int) {
        precondition(count <= writeIndex - readIndex, "consumed more than was received")
        readIndex += count
        if readIndex == writeIndex {
            readIndex = 0
            writeIndex = 0
        }
    }

    /// Receives more bytes after the unread ones, moving those to the front when the buffer's
    /// end is reached. Returns how many arrived; 0 when the peer closed the connection.
    func fill(deadline: IODeadline) throws(UpstreamConnectionFailure) -> Int {
        if writeIndex == buffer.count && readIndex > 0 {
            let count = writeIndex - readIndex
            buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + readIndex, byteCount: count)
            readIndex = 0
            writeIndex = count
        }
        precondition(writeIndex < buffer.count, "fill with a full buffer")
        let space = UnsafeMutableRawBufferPointer(rebasing: buffer[writeIndex...])
        let received: Int
        if let tls {
            received = try tls.read(into: space, deadline: deadline)
        } else {
            received = try receivePlain(into: space, deadline: deadline)
        }
        writeIndex += received
        return received
    }

    /// Sends all of `bytes`.
    func send(_ bytes: [UInt8], deadline: IODeadline) throws(UpstreamConnectionFailure) {
        let outcome = bytes.withUnsafeBytes { raw in
            Result { () throws(UpstreamConnectionFailure) in
                if let tls {
                    try tls.write(raw, deadline: deadline)
                } else {
                    try sendPlain(raw, deadline: deadline)
                }
            }
        }
        try outcome.get()
    }

    /// Whether the peer closed the connection (or sent something unasked) while it was idle.
    var isClosedByPeer: Bool { SocketPoll.hasPendingInputOrHangUp(socket.rawValue) }

    private func receivePlain(into space: UnsafeMutableRawBufferPointer, deadline: IODeadline) throws(UpstreamConnectionFailure) -> Int {
        while true {
            let count = recv(socket.rawValue, space.baseAddress, space.count, 0)
            if count >= 0 { return count }
            let code = cbs_errno()
            switch code {
            case EINTR: continue
            case EAGAIN: try SocketPoll.wait(socket.rawValue, for: .readable, until: deadline, operation: "read from \(origin)")
            default: throw UpstreamConnectionFailure(.closed, "read from \(origin): \(String(cString: strerror(code)))")
            }
        }
    }

    private func sendPlain(_ bytes: UnsafeRawBufferPointer, deadline: IODeadline) throws(UpstreamConnectionFailure) {
        var done = 0
        while done < bytes.count {
            let count = Glibc.send(socket.rawValue, bytes.baseAddress! + done, bytes.count - done, Int32(MSG_NOSIGNAL))
            if count >= 0 {
                done += count
                continue
            }
            let code = cbs_errno()
            switch code {
            case EINTR: continue
            case EAGAIN: try SocketPoll.wait(socket.rawValue, for: .writable, until: deadline, operation: "write to \(origin)")
            default: throw UpstreamConnectionFailure(.closed, "write to \(origin): \(String(cString: strerror(code)))")
            }
        }
    }
}
