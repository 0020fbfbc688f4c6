import Glibc
import Synchronization
@testable import BlobServer

/// A peer that lies: on its own loopback address (beside real nodes, on their port) it answers
/// every blob GET with 200, the Content-Length of the real blob and other bytes, as a peer with
/// a corrupt disk or a bad actor would. Anything else gets 404. It keeps connections alive and
/// records the request lines it got.
///
/// Lifecycle as `LoopbackTCPServer`: call `stop()` in a `defer`.
final class LyingPeer: Sendable {
    /// The request lines received, shared with the connection threads.
    private final class Record: Sendable {
        let lines = Mutex<[String]>([])
    }

    private let server: LoopbackTCPServer
    private let received = Record()

    /// The request lines received so far (`GET /v2/… HTTP/1.1`), in arrival order.
    var requestLines: [String] { received.lines.withLock { $0 } }

    /// Listens on `address` and answers blob GETs with `wrongBytes`, which should be as long
    /// as the blob they pretend to be.
    init(on address: SocketAddress, wrongBytes: [UInt8]) throws {
        let received = received
        server = try LoopbackTCPServer(listeningOn: address) { connection in
            var pending: [UInt8] = []
            while let head = connection.nextHead(pending: &pending) {
                let requestLine = String(head.split(separator: "\r\n").first ?? "")
                received.lines.withLock { $0.append(requestLine) }
                let isBlobGet = requestLine.hasPrefix("GET ") && requestLine.contains("/blobs/")
                let reply = isBlobGet
                    ? Array("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: \(wrongBytes.count)\r\n\r\n".utf8) + wrongBytes
                    : Array("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".utf8)
                guard sendAll(connection.socket, reply) else { return }
            }
        }
    }

    func stop() { server.stop() }
}
