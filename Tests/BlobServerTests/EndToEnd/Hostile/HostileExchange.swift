import Glibc

/// One hostile request on a connection of its own: the exact bytes go out, and every byte
/// that comes back is kept until the server closes the connection or the deadline passes. The
/// raw bytes are what a test asserts on (a forged header line, a second response), so nothing
/// is parsed away.
struct HostileExchange {
    /// Everything the server sent, in order.
    let bytes: [UInt8]
    /// Whether the server closed the connection (FIN or reset) before the deadline.
    let closed: Bool
    /// From the first byte sent to the close, or to the deadline.
    let seconds: Double

    /// Sends `request` to `host:port` and reads until the close or `deadlineSeconds`. A server
    /// that answers and closes before taking the whole request is fine: what it sent is kept.
    init(_ request: [UInt8], host: String, port: UInt16, deadlineSeconds: Double) throws {
        let client = try RawClient(host: host, port: port, timeoutSeconds: Int(deadlineSeconds.rounded(.up)))
        let start = monotonicSeconds()
        var offset = 0
        while offset < request.count {
            let count = request[offset...].withUnsafeBytes { send(client.socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }  // closed on us mid-request: read what it said
            offset += count
        }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        var closed = false
        while true {
            let left = start + deadlineSeconds - monotonicSeconds()
            guard left > 0 else { break }
            var ready = pollfd(fd: client.socket, events: Int16(POLLIN), revents: 0)
            let polled = poll(&ready, 1, Int32(left * 1000) + 1)
            if polled < 0 && errno == EINTR { continue }
            guard polled > 0 else { break }
            let count = chunk.withUnsafeMutableBytes { recv(client.socket, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 {
                closed = true
                break
            }
            received += chunk[..<count]
        }
        bytes = received
        self.closed = closed
        seconds = monotonicSeconds() - start
    }

    /// The first response's head, up to (not including) its empty line; nil if none came whole.
    var head: [UInt8]? {
        headEnd.map { Array(bytes[..<$0]) }
    }

    /// The first response's status, or nil without one.
    var status: Int? {
        guard let head, head.starts(with: Array("HTTP/1.1 ".utf8)), head.count >= 12 else { return nil }
        return Int(String(decoding: head[9..<12], as: UTF8.self))
    }

    /// The first response's header lines after the status line, exactly as sent.
    var headerLines: [String] {
        guard let head else { return [] }
        return String(decoding: head, as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false).dropFirst().map(String.init)
    }

    /// The value of the first response's field `name` (any case).
    func header(_ name: String) -> String? {
        for line in headerLines {
            guard let colon = line.firstIndex(of: ":"), line[..<colon].lowercased() == name.lowercased() else { continue }
            return String(line[line.index(after: colon)...]).trimmingCharacters()
        }
        return nil
    }

    /// The first response's body: `Content-Length` bytes after the head (all that came, when
    /// fewer did), or everything to the close without one.
    var body: [UInt8] {
        guard let headEnd else { return [] }
        let start = headEnd + 4
        guard let length = header("Content-Length").flatMap(Int.init) else { return Array(bytes[start...]) }
        return Array(bytes[start..<min(bytes.count, start + length)])
    }

    var text: String { String(decoding: body, as: UTF8.self) }

    /// What came after the first response: a second response means a second request was read
    /// out of what should have been one.
    var afterFirstResponse: [UInt8] {
        guard let headEnd else { return [] }
        let end = headEnd + 4 + (header("Content-Length").flatMap(Int.init) ?? (bytes.count - headEnd - 4))
        return end < bytes.count ? Array(bytes[end...]) : []
    }

    private var headEnd: Int? { firstIndex(of: [13, 10, 13, 10], in: bytes) }
}
