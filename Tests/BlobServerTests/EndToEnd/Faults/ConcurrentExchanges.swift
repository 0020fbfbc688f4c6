import BlobStore
import Glibc

/// Requests sent all at once, each on its own connection, then every response read until its
/// body is whole, the server closes the connection, or the deadline passes; each with the time
/// it took. What a fault test needs to judge every client: the status, the body (kept: the
/// blobs are small), whether the connection ended before the announced length, and when.
enum ConcurrentExchanges {
    /// What one request got.
    struct Outcome: CustomStringConvertible {
        let method: String
        /// The response head; nil when none arrived.
        let head: Curl.Reply?
        let body: [UInt8]
        let bodyDigest: Digest
        /// The Content-Length the head announced.
        let announcedLength: Int?
        /// The server closed (FIN or RST) before the exchange was over.
        let closedEarly: Bool
        /// From sending the request to the end of the exchange (or the deadline).
        let seconds: Double

        var status: Int? { head?.status }

        /// 200 and the whole body, which is `bytes`.
        func deliveredExactly(_ bytes: [UInt8]) -> Bool {
            head?.status == 200 && announcedLength == bytes.count && body.count == bytes.count
                && bodyDigest == Digest.of(bytes)
        }

        /// `status` with an OCI JSON error body naming `code`, whole.
        func isCleanError(status: Int, code: String) -> Bool {
            guard let head, head.status == status, head.header("Content-Type") == "application/json" else { return false }
            guard method != "HEAD" else { return true }
            let text = String(decoding: body, as: UTF8.self)
            return announcedLength == body.count && text.hasPrefix(#"{"errors":[{"code":"\#(code)""#)
        }

        /// A 200 head, then the connection closed before the last announced byte: the only
        /// way a client may learn of a failure once the head went out.
        var wasCutOff: Bool {
            guard head?.status == 200, let announcedLength else { return false }
            return closedEarly && body.count < announcedLength
        }

        var description: String {
            let text = head.map { "\($0.status), \(body.count) of \(announcedLength.map(String.init) ?? "?") bytes" } ?? "no head"
            let detail = body.count < 300 ? " " + String(decoding: body, as: UTF8.self) : ""
            return "\(method): \(text)\(closedEarly ? ", closed early" : "") after \((seconds * 10).rounded() / 10) s\(detail)"
        }
    }

    /// Sends `method target` (with `Connection: close`) for each request to 127.0.0.1:`port`,
    /// all before reading any answer, then reads them all for at most `timeoutSeconds`.
    /// Outcomes are in the order of `requests`.
    static func run(port: UInt16, _ requests: [(method: String, target: String)], timeoutSeconds: Double) throws -> [Outcome] {
        let start = monotonicSeconds()
        let exchanges = try requests.map { request in
            Exchange(client: try RawClient(port: port, timeoutSeconds: Int(timeoutSeconds) + 1), method: request.method)
        }
        for (exchange, request) in zip(exchanges, requests) {
            try exchange.client.send("\(request.method) \(request.target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n")
        }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        let deadline = start + timeoutSeconds
        while monotonicSeconds() < deadline {
            let open = exchanges.filter { $0.endedAt == nil }
            if open.isEmpty { break }
            var descriptors = open.map { pollfd(fd: $0.client.socket, events: Int16(POLLIN), revents: 0) }
            guard poll(&descriptors, nfds_t(descriptors.count), 200) >= 0 || errno == EINTR else {
                throw EndToEndFailure("poll: errno \(errno)")
            }
            for (exchange, descriptor) in zip(open, descriptors) where descriptor.revents != 0 {
                let count = buffer.withUnsafeMutableBytes { recv(descriptor.fd, $0.baseAddress, $0.count, 0) }
                if count <= 0 {
                    exchange.closedEarly = true
                    exchange.endedAt = monotonicSeconds()
                    continue
                }
                try exchange.take(buffer[0..<count])
                if exchange.hasEnded || (exchange.method == "HEAD" && exchange.head != nil) {
                    exchange.endedAt = monotonicSeconds()
                }
            }
        }
        return exchanges.map { exchange in
            Outcome(
                method: exchange.method, head: exchange.head, body: exchange.body, bodyDigest: exchange.hasher.finish(),
                announcedLength: exchange.head?.header("Content-Length").flatMap { Int($0) },
                closedEarly: exchange.closedEarly, seconds: (exchange.endedAt ?? monotonicSeconds()) - start)
        }
    }

    /// One connection and its response.
    private final class Exchange: ArrivingReply {
        let client: RawClient
        let method: String
        var closedEarly = false
        var endedAt: Double?

        init(client: RawClient, method: String) {
            self.client = client
            self.method = method
            super.init(keepsBody: true)
        }
    }
}
