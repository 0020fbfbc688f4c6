import Glibc

/// A blocking TCP client for raw-socket tests: sends exact bytes and reads HTTP/1.1 responses
/// (Content-Length bodies, or to EOF), with a receive timeout so a hung server fails the test.
final class RawClient {
    let socket: Int32
    private var pending: [UInt8] = []

    struct Reply {
        let status: Int
        let headers: [(String, String)]
        let body: [UInt8]

        func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Connects to `host` (an IPv4 literal) on `port`.
    init(host: String = "127.0.0.1", port: UInt16, timeoutSeconds: Int = 10) throws {
        do {
            socket = try connectLoopback(host: host, port: port)
        } catch {
            throw Failure(description: "\(error)")
        }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { Glibc.close(socket) }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { throw Failure(description: "send failed: errno \(errno)") }
            offset += count
        }
    }

    /// Shuts the sending side: the server sees EOF after what was sent.
    func finishSending() { shutdown(socket, Int32(SHUT_WR)) }

    /// Reads one response. `isHead`: the response to a HEAD has no body whatever it announces.
    func readReply(isHead: Bool = false) throws -> Reply {
        var headEnd: Int?
        while true {
            if let end = Self.find([13, 10, 13, 10], in: pending) { headEnd = end; break }
            guard try fill() else { throw Failure(description: "EOF before a response head (\(pending.count) bytes)") }
        }
        let headText = String(decoding: pending[..<headEnd!], as: UTF8.self)
        pending.removeFirst(headEnd! + 4)
        var lines = headText.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw Failure(description: "bad status line \(headText)") }
        let headers = lines.compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingCharacters())
        }
        let reply = Reply(status: status, headers: headers, body: [])
        if isHead || status == 304 || status == 204 || status < 200 { return reply }
        if let length = reply.header("content-length").flatMap(Int.init) {
            while pending.count < length {
                guard try fill() else { throw Failure(description: "EOF in body: \(pending.count) of \(length)") }
            }
            let body = Array(pending[..<length])
            pending.removeFirst(length)
            return Reply(status: status, headers: headers, body: body)
        }
        while try fill() {}
        defer { pending = [] }
        return Reply(status: status, headers: headers, body: pending)
    }

    /// Whether the server closed the connection (EOF) within the receive timeout, with no
    /// bytes left unread.
    func readsEOF() -> Bool {
        guard pending.isEmpty else { return false }
        return (try? fill()) == false
    }

    /// Reads more bytes; false at EOF.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
        if count > 0 {
            pending += chunk[..<count]
            return true
        }
        if count == 0 || errno == ECONNRESET { return false }
        throw Failure(description: "recv failed: errno \(errno)")
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for index in 0...(haystack.count - needle.count) where haystack[index] == needle[0] {
            if Array(haystack[index..<index + needle.count]) == needle { return index }
        }
        return nil
    }
}

extension String {
    func trimmingCharacters() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
