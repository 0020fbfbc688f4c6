import BlobStore
import CBlobSys
import Glibc

/// A non-blocking TCP listener. With `reusePort`, each event loop binds its own listener on
/// the same address (SO_REUSEPORT) and the kernel spreads connections across them.
///
/// Owned by one event loop; closed when dropped.
struct ListeningSocket: ~Copyable {
    let descriptor: FileDescriptor
    /// The bound address; the real port when 0 was asked for.
    let address: SocketAddress

    init(binding address: SocketAddress, reusePort: Bool, backlog: Int32 = 1024) throws(SystemError) {
        let family: Int32 = if case .v6 = address.host { AF_INET6 } else { AF_INET }
        let raw = try syscall("socket", path: "\(address)") {
            socket(family, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
        }
        let descriptor = FileDescriptor(owning: raw)
        var one: Int32 = 1
        try syscall("setsockopt(SO_REUSEADDR)", path: "\(address)") {
            setsockopt(raw, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        if reusePort {
            try syscall("setsockopt(SO_REUSEPORT)", path: "\(address)") {
                setsockopt(raw, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size))
            }
        }
        try address.withSockaddr { pointer, length throws(SystemError) in
            try syscall("bind", path: "\(address)") { bind(raw, pointer, length) }
        }
        try syscall("listen", path: "\(address)") { listen(raw, backlog) }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        try syscall("getsockname", path: "\(address)") {
            withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(raw, $0, &length) }
            }
        }
        self.descriptor = descriptor
        self.address = address.with(port: SocketAddress(storage: storage).port)
    }

    /// Accepts one pending connection, non-blocking and close-on-exec, with TCP_NODELAY set.
    /// Returns nil when none is pending (EAGAIN), or when the client gave up before we got to it.
    func accept() throws(SystemError) -> FileDescriptor? {
        while true {
            let raw = cbs_accept_nonblocking(descriptor.rawValue, nil, nil)
            if raw >= 0 {
                var one: Int32 = 1
                setsockopt(raw, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                return FileDescriptor(owning: raw)
            }
            switch cbs_errno() {
            case EINTR: continue
            case EAGAIN, ECONNABORTED: return nil
            case let code: throw SystemError(call: "accept4", path: "\(address)", errno: code)
            }
        }
    }
}
