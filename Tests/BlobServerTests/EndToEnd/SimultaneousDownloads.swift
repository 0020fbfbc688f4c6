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

    /// One connection and its response.
    private final class Download: ArrivingReply {
        let client: RawClient

        init(client: RawClient) {
            self.client = client
            super.init(keepsBody: false)
        }
    }
}
