import Glibc
@testable import BlobServer

/// A TCP proxy on 127.0.0.1 that passes each connection on to `target` and slows what comes
/// back to `bytesPerSecond` per connection, so an upstream fill takes seconds instead of
/// milliseconds and a test can act in the middle of it. Requests go through unthrottled.
///
/// When either side closes or fails, the pair is torn down both ways, so the target sees its
/// client leave (and docker-registry finishes that request's access-log line).
/// Lifecycle as `LoopbackTCPServer`: call `stop()` in a `defer`.
final class ThrottledProxy: Sendable {
    private let server: LoopbackTCPServer

    /// `http://127.0.0.1:PORT`, to give as an upstream URL.
    var baseURL: String { "http://\(server.address)" }

    init(to target: SocketAddress, bytesPerSecond: Double) throws {
        server = try LoopbackTCPServer(listeningOn: try SocketAddress(parsing: "127.0.0.1:0")) { connection in
            Self.relay(connection, to: target, bytesPerSecond: bytesPerSecond)
        }
    }

    func stop() { server.stop() }

    private static func relay(_ connection: LoopbackTCPServer.Connection, to target: SocketAddress, bytesPerSecond: Double) {
        let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard upstream >= 0 else { return }
        defer { close(upstream) }
        guard target.withSockaddr({ connect(upstream, $0, $1) == 0 }) else { return }
        let client = connection.socket
        defer {
            shutdown(upstream, Int32(SHUT_RDWR))
            shutdown(client, Int32(SHUT_RDWR))
        }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        let start = monotonicSeconds()
        var sentBack = 0.0
        while true {
            // The upstream is read only when the bytes sent back so far are within the rate.
            let due = start + sentBack / bytesPerSecond - monotonicSeconds()
            var descriptors = [
                pollfd(fd: connection.stopping, events: Int16(POLLIN), revents: 0),
                pollfd(fd: client, events: Int16(POLLIN), revents: 0),
                pollfd(fd: upstream, events: due > 0 ? 0 : Int16(POLLIN), revents: 0),
            ]
            let timeout = due > 0 ? Int32(due * 1000) + 1 : -1
            guard poll(&descriptors, 3, timeout) >= 0 || errno == EINTR else { return }
            if descriptors[0].revents != 0 { return }
            if descriptors[1].revents != 0 {
                guard forward(from: client, to: upstream, through: &buffer) != nil else { return }
            }
            if descriptors[2].revents != 0 {
                guard let count = forward(from: upstream, to: client, through: &buffer) else { return }
                sentBack += Double(count)
            }
        }
    }

    /// One read from `source` passed on whole to `destination`: the byte count, or nil when
    /// either side is closed or failed.
    private static func forward(from source: Int32, to destination: Int32, through buffer: inout [UInt8]) -> Int? {
        let count = buffer.withUnsafeMutableBytes { recv(source, $0.baseAddress, $0.count, 0) }
        guard count > 0, sendAll(destination, buffer[..<count]) else { return nil }
        return count
    }
}
