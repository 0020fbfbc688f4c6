import Glibc
@testable import BlobServer

/// A port on 127.0.0.1 where nothing listens: a socket holds it bound (so no other test gets it)
/// without listening, so every connect is refused (RST). `release()` frees it for a server the
/// test starts there; the value going away releases it too.
final class RefusingPort {
    let address: SocketAddress
    private var socket: Int32

    init() throws {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { throw EndToEndFailure("socket: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let any = try SocketAddress(parsing: "127.0.0.1:0")
        let bound = any.withSockaddr { bind(socket, $0, $1) == 0 }
            && withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) == 0 }
            }
        guard bound else {
            let code = errno
            close(socket)
            throw EndToEndFailure("cannot bind 127.0.0.1:0: errno \(code)")
        }
        self.socket = socket
        address = SocketAddress(storage: storage)
    }

    deinit { release() }

    /// Closes the socket: the port is free to listen on.
    func release() {
        guard socket >= 0 else { return }
        close(socket)
        socket = -1
    }
}
