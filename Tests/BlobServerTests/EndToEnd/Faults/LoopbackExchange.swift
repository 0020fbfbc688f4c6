import BlobStore
import Glibc

/// One HTTP/1.1 request on its own connection to 127.0.0.1:`port`, for the fault tests' client
/// threads: the head and body are sent whole, then the response is read to the end of its
/// Content-Length body, which is hashed as it arrives and kept only when asked (error bodies).
///
/// A server that dies or refuses mid-way is not an error here: the outcome says how far the
/// exchange got (`refused`, no head, an incomplete body), and the caller decides whether that
/// was expected. A send or receive that waits longer than `timeoutSeconds` marks the outcome
/// `timedOut`: a hang. Blocking; any thread.
enum LoopbackExchange {
    struct Outcome {
        /// Nothing listened on the port (connect was refused).
        let refused: Bool
        /// A send or receive waited past the limit.
        let timedOut: Bool
        /// The response head; nil when none arrived.
        let head: Curl.Reply?
        let bodyLength: Int
        let bodyDigest: Digest
        /// The body, when it was kept.
        let body: [UInt8]
        /// The head and the whole announced body arrived.
        let isComplete: Bool

        var status: Int { head?.status ?? 0 }
        var text: String { String(decoding: body, as: UTF8.self) }
        /// What went on, for failure messages.
        var summary: String {
            if refused { return "refused" }
            if timedOut { return "timed out after \(bodyLength) body bytes (status \(status))" }
            guard head != nil else { return "no response head" }
            return isComplete ? "\(status) \(text.prefix(300))" : "\(status), cut off after \(bodyLength) body bytes"
        }
    }

    /// Sends `method target` with `headers` and `body` (a Content-Length is added for bodies and
    /// for POST, PUT and PATCH, unless `headers` set a Transfer-Encoding: `body` is then sent as
    /// given, already framed), then reads the response. Throws only when the response head
    /// cannot be parsed.
    static func perform(
        port: UInt16, _ method: String, _ target: String, headers: [String] = [], body: [UInt8] = [],
        keepingBody: Bool = false, timeoutSeconds: Int = 30
    ) throws -> Outcome {
        let reply = ArrivingReply(keepsBody: keepingBody)
        let socket: Int32
        do {
            socket = try connectLoopback(port: port)
        } catch let failure as LoopbackConnectFailure {
            return outcome(reply, refused: failure.code == ECONNREFUSED, timedOut: failure.code == ETIMEDOUT)
        }
        defer { close(socket) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var head = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for field in headers { head += field + "\r\n" }
        let isChunked = headers.contains { $0.lowercased().hasPrefix("transfer-encoding:") }
        if !isChunked && (!body.isEmpty || ["POST", "PUT", "PATCH"].contains(method)) { head += "Content-Length: \(body.count)\r\n" }
        // A server that answers early (a 507 before the body) may stop reading: what it said
        // is still read below.
        let sent = send(Array((head + "\r\n").utf8), on: socket) && send(body, on: socket)
        var timedOut = !sent && errno == EAGAIN
        var buffer = [UInt8](repeating: 0, count: 1 << 18)
        while !reply.hasEnded {
            let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                try reply.take(buffer[0..<count])
                continue
            }
            if count < 0 && errno == EINTR { continue }
            if count < 0 && errno == EAGAIN { timedOut = true }
            break
        }
        return outcome(reply, refused: false, timedOut: timedOut)
    }

    /// Sends all of `bytes`; false when the connection broke or a send timed out (see errno).
    private static func send(_ bytes: [UInt8], on socket: Int32) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return false }
            offset += count
        }
        return true
    }

    private static func outcome(_ reply: ArrivingReply, refused: Bool, timedOut: Bool) -> Outcome {
        Outcome(
            refused: refused, timedOut: timedOut, head: reply.head, bodyLength: reply.received,
            bodyDigest: reply.hasher.finish(), body: reply.body, isComplete: reply.isComplete)
    }
}
