import BlobStore
import Glibc

/// Many GETs at once over raw sockets: every connection is opened and every request sent
/// before any response is read, so the server holds them all while the first is still being
/// answered. Bodies are hashed as they arrive and not kept: 33 × 48 MiB costs no memory.
enum SimultaneousDownloads {
    /// What one request got.
    struct Outcome {
        /// The response head (status and fields; its body is empty).
        let head: Curl.Reply
        let bodyLength: Int
        let bodyDigest: Digest
        /// The whole announced body arrived before the connection ended.
        let isComplete: Bool
    }

    /// Sends each of `requests` (whole request heads, blank line included) on its own connection
    /// to 127.0.0.1:`port`, then reads every response (Content-Length bodies) to its end, or
    /// until `timeoutSeconds` have passed. Outcomes are in the order of `requests`.
    static func run(port: UInt16, requests: [String], timeoutSeconds: Double = 60) throws -> [Outcome] {
        let downloads = try requests.map { _ in Download(client: try RawClient(port: port, timeoutSeconds: Int(timeoutSeconds))) }
        for (download, request) in zip(downloads, requests) { try download.client.send(request) }
        var buffer = [UInt8](repeating: 0, count: 1 << 18)
        let deadline = monotonicSeconds() + timeoutSeconds
        while monotonicSeconds() < deadline {
            let open = downloads.filter { !$0.hasEnded }
            if open.isEmpty { break }
            var descriptors = open.map { pollfd(fd: $0.client.socket, events: Int16(POLLIN), revents: 0) }
            guard poll(&descriptors, nfds_t(descriptors.count), 1000) >= 0 || errno == EINTR else {
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
        }
        return try downloads.map { download in
            guard let head = download.head else {
                throw EndToEndFailure("no response head on one of \(requests.count) connections (\(download.headBytes.count) bytes)")
            }
            return Outcome(
                head: head, bodyLength: download.received, bodyDigest: download.hasher.finish(),
                isComplete: download.received == download.expected)
        }
    }

    /// One connection's progress: the head until it is whole, then the body's length and hash.
    private final class Download {
        let client: RawClient
        var headBytes: [UInt8] = []
        var head: Curl.Reply?
        var expected = 0
        var received = 0
        let hasher = StreamingHasher(.sha256)
        var hasEnded = false

        init(client: RawClient) { self.client = client }

        func take(_ bytes: ArraySlice<UInt8>) throws {
            guard head == nil else { return consume(bytes) }
            headBytes += bytes
            guard let end = firstIndex(of: Array("\r\n\r\n".utf8), in: headBytes) else { return }
            let reply = try Curl.parse(head: String(decoding: headBytes[..<end], as: UTF8.self), body: [])
            head = reply
            expected = reply.header("Content-Length").flatMap { Int($0) } ?? 0
            consume(headBytes[(end + 4)...])
            if expected == 0 { hasEnded = true }
        }

        private func consume(_ body: ArraySlice<UInt8>) {
            body.withUnsafeBytes { hasher.update($0) }
            received += body.count
            if received >= expected { hasEnded = true }
        }
    }
}
