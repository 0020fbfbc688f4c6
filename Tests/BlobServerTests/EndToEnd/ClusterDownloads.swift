import BlobStore
import Glibc
@testable import BlobServer

/// GETs from nodes on any loopback address (127.0.0.N:P), several at once: every connection is
/// opened and every request sent before any response is read, as `SimultaneousDownloads` does
/// on 127.0.0.1. Bodies are hashed as they arrive and kept only when asked (for small text such
/// as `/metrics`).
enum ClusterDownloads {
    /// One GET: where it goes and the path it asks for.
    struct Request {
        let node: SocketAddress
        let path: String
    }

    /// What one GET got.
    struct Outcome {
        /// The response head (status and fields; its body is empty); nil when none arrived.
        let head: Curl.Reply?
        let bodyLength: Int
        let bodyDigest: Digest
        /// The body, when it was kept.
        let body: [UInt8]
        /// The whole announced body arrived before the connection ended.
        let isComplete: Bool

        var status: Int { head?.status ?? 0 }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// Bytes of body each download has received so far, in request order.
    typealias Progress = [Int]

    /// Sends every request on its own connection, then reads the responses (Content-Length
    /// bodies) to their end, or until `timeoutSeconds` have passed. `whileWaiting` is called
    /// between reads (at least every 100 ms) with the progress so far, so a test can act in
    /// the middle of the transfers. Outcomes are in request order.
    static func run(
        _ requests: [Request], keepingBodies: Bool = false, timeoutSeconds: Double = 60,
        whileWaiting: (Progress) -> Void = { _ in }
    ) throws -> [Outcome] {
        let downloads = try requests.map { try Download(connectingTo: $0.node, keepsBody: keepingBodies) }
        for (download, request) in zip(downloads, requests) {
            let head = "GET \(request.path) HTTP/1.1\r\nHost: \(request.node)\r\nConnection: close\r\n\r\n"
            guard sendAll(download.socket, Array(head.utf8)) else { throw EndToEndFailure("sending to \(request.node): errno \(errno)") }
        }
        var buffer = [UInt8](repeating: 0, count: 1 << 18)
        let deadline = monotonicSeconds() + timeoutSeconds
        while monotonicSeconds() < deadline {
            let open = downloads.filter { !$0.hasEnded }
            if open.isEmpty { break }
            var descriptors = open.map { pollfd(fd: $0.socket, events: Int16(POLLIN), revents: 0) }
            guard poll(&descriptors, nfds_t(descriptors.count), 100) >= 0 || errno == EINTR else {
                throw EndToEndFailure("poll: errno \(errno)")
            }
            for (download, descriptor) in zip(open, descriptors) where descriptor.revents != 0 {
                let count = buffer.withUnsafeMutableBytes { recv(descriptor.fd, $0.baseAddress, $0.count, 0) }
                if count <= 0 {
                    download.hasEnded = true
                } else {
                    try download.take(buffer[0..<count])
                }
            }
            whileWaiting(downloads.map(\.received))
        }
        return downloads.map { download in
            Outcome(
                head: download.head, bodyLength: download.received, bodyDigest: download.hasher.finish(),
                body: download.body, isComplete: download.head != nil && download.received == download.expected)
        }
    }

    /// One GET on a fresh connection, its body kept.
    static func get(_ path: String, from node: SocketAddress, timeoutSeconds: Double = 30) throws -> Outcome {
        try run([Request(node: node, path: path)], keepingBodies: true, timeoutSeconds: timeoutSeconds)[0]
    }

    /// One connection and its response.
    private final class Download: ArrivingReply {
        let socket: Int32

        init(connectingTo node: SocketAddress, keepsBody: Bool) throws {
            socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
            super.init(keepsBody: keepsBody)
            guard socket >= 0 else { throw EndToEndFailure("socket: errno \(errno)") }
            guard node.withSockaddr({ connect(socket, $0, $1) == 0 }) else {
                throw EndToEndFailure("cannot connect to \(node): errno \(errno)")
            }
        }

        deinit { close(socket) }
    }
}
