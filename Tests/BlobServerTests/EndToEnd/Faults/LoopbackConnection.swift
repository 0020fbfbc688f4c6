import Glibc

/// A blocking TCP connection to 127.0.0.1:`port`, close-on-exec; the caller closes it. With
/// `receiveBufferBytes`, SO_RCVBUF is set before the connect, so the window the kernel
/// advertises stays that small and a slow reader is slow on the wire too. With
/// `maximumSegmentBytes`, the connection announces that MSS instead of loopback's 64 KiB, so
/// the server's kernel sizes its send buffer as for a client across a real network (at
/// loopback's MSS it grows to tcp_wmem's maximum, 4 MiB, per connection at once).
func connectLoopback(port: UInt16, receiveBufferBytes: Int32? = nil, maximumSegmentBytes: Int32? = nil) throws -> Int32 {
    let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
    guard socket >= 0 else { throw EndToEndFailure("socket: errno \(errno)") }
    if var size = receiveBufferBytes {
        setsockopt(socket, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    }
    if var segment = maximumSegmentBytes {
        setsockopt(socket, Int32(IPPROTO_TCP), TCP_MAXSEG, &segment, socklen_t(MemoryLayout<Int32>.size))
    }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else {
        let code = errno
        close(socket)
        throw EndToEndFailure("connect to 127.0.0.1:\(port): errno \(code)")
    }
    return socket
}
