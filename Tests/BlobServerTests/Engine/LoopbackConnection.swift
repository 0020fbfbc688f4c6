import Glibc

/// Why `connectLoopback` found no connection: the errno of the failing call.
struct LoopbackConnectFailure: Error, CustomStringConvertible {
    let host: String
    let port: UInt16
    let code: Int32

    var description: String { "connect to \(host):\(port): errno \(code)" }
}

/// A blocking TCP connection to `host` (an IPv4 literal, by default 127.0.0.1) on `port`,
/// close-on-exec; the caller closes it. With `receiveBufferBytes`, SO_RCVBUF is set before the
/// connect, so the window the kernel advertises stays that small and a slow reader is slow on
/// the wire too. With `maximumSegmentBytes`, the connection announces that MSS instead of
/// loopback's 64 KiB, so the server's kernel sizes its send buffer as for a client across a real
/// network (at loopback's MSS it grows to tcp_wmem's maximum, 4 MiB, per connection at once).
func connectLoopback(
    host: String = "127.0.0.1", port: UInt16, receiveBufferBytes: Int32? = nil, maximumSegmentBytes: Int32? = nil
) throws -> Int32 {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
        throw EndToEndFailure("'\(host)' is not an IPv4 address")
    }
    let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
    guard socket >= 0 else { throw EndToEndFailure("socket: errno \(errno)") }
    if var size = receiveBufferBytes {
        setsockopt(socket, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    }
    if var segment = maximumSegmentBytes {
        setsockopt(socket, Int32(IPPROTO_TCP), TCP_MAXSEG, &segment, socklen_t(MemoryLayout<Int32>.size))
    }
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else {
        let code = errno
        close(socket)
        throw LoopbackConnectFailure(host: host, port: port, code: code)
    }
    return socket
}
