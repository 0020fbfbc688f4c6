import Glibc

/// A scriptable HTTP/1.1 server on 127.0.0.1 for testing clients, honest or lying: each request
/// is answered with whatever `Reply` the test's handler returns (any status, fields and body;
/// Content-Length, chunked or close-delimited framing; a close, a TCP reset or a stall after N
/// body bytes; a delay; raw bytes; no answer at all). It records what it received.
///
/// Lifecycle: it listens (port 0, see `port`) as soon as `init` returns, serves each
/// connection on its own thread with keep-alive, and runs until `stop()`, which wakes every
/// thread, joins them and closes every socket. The threads hold the server, so a test must
/// call `stop()` (in a `defer`). Requests with a Content-Length body are read whole; chunked
/// request bodies are not supported.
///
/// Thread-safe: the handler runs on connection threads, possibly several at once; the records
/// are guarded by a mutex.
///
/// Uses Glibc only, so any test target can use it. For example, an upstream that resets the
/// first download after 1 MiB and then serves ranges:
///
///     let server = try FakeHTTPServer { request in
///         guard request.header("Range") != nil else {
///             return FakeHTTPServer.Reply(body: blob, bodyEnd: .reset(afterBytes: 1 << 20))
///         }
///         return FakeHTTPServer.Reply(status: 206, headers: [("Content-Range", …)], body: …)
///     }
///     defer { server.stop() }
///     // … point a client at http://127.0.0.1:\(server.port) …
///     #expect(server.requests.count == 2)
public final class FakeHTTPServer: @unchecked Sendable {
    /// A request as received.
    public struct Request: Sendable {
        public let method: String
        public let target: String
        /// Fields in the order received, names as sent.
        public let headers: [(name: String, value: String)]
        public let body: [UInt8]
        /// Which connection carried it, counting from 0 in accept order.
        public let connection: Int
        /// Its position among all requests the server received, from 0.
        public let index: Int
        /// When its head was complete, in `monotonicSeconds()`.
        public let arrival: Double

        /// The value of field `name` (any case), repeated fields joined with `, `; nil when absent.
        public func header(_ name: String) -> String? {
            let values = headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
            return values.isEmpty ? nil : values.joined(separator: ", ")
        }
    }

    /// What to answer one request with.
    public struct Reply: Sendable {
        /// How the body is delimited on the wire.
        public enum Framing: Sendable, Equatable {
            case contentLength
            /// Chunks of `chunkSize` body bytes (the last may be shorter), then `0\r\n\r\n`.
            case chunked(chunkSize: Int)
            /// No length: `Connection: close`, and the body ends when the server closes.
            case closeDelimited
        }

        /// What happens after the head: the whole body, or a failure after `afterBytes` body bytes.
        public enum BodyEnd: Sendable, Equatable {
            case complete
            /// A clean close (FIN).
            case close(afterBytes: Int)
            /// An abortive close (RST, by SO_LINGER 0).
            case reset(afterBytes: Int)
            /// Nothing more, the connection left open until the client leaves or `stop()`.
            case stall(afterBytes: Int)
        }

        /// Replies that are not a response.
        public enum Kind: Sendable {
            case response
            /// These bytes exactly, then the connection stays open (for malformed answers).
            case raw([UInt8])
            /// No answer; the connection stays open.
            case silence
            /// Close without answering (a server dropping an idle keep-alive connection).
            case hangUp
            /// Reset without answering.
            case reset
        }

        public var kind: Kind = .response
        public var status = 200
        /// The reason phrase; a standard one when nil.
        public var reason: String?
        /// Extra fields. Framing fields are added from `framing`, unless the test sets its own
        /// `Content-Length` or `Transfer-Encoding` here.
        public var headers: [(name: String, value: String)] = []
        public var body: [UInt8] = []
        public var framing = Framing.contentLength
        public var bodyEnd = BodyEnd.complete
        /// Seconds to wait before answering.
        public var delay = 0.0
        /// Close the connection after this response without announcing it (no
        /// `Connection: close`), as a server does when its keep-alive timeout fires.
        public var closeAfterResponse = false

        public init(
            status: Int = 200, headers: [(name: String, value: String)] = [], body: [UInt8] = [],
            framing: Framing = .contentLength, bodyEnd: BodyEnd = .complete
        ) {
            self.status = status
            self.headers = headers
            self.body = body
            self.framing = framing
            self.bodyEnd = bodyEnd
        }

        /// 200 with `text` as the body.
        public static func text(_ text: String, status: Int = 200, headers: [(name: String, value: String)] = []) -> Reply {
            Reply(status: status, headers: headers, body: Array(text.utf8))
        }

        /// `bytes` sent as they are.
        public static func raw(_ bytes: [UInt8]) -> Reply {
            var reply = Reply()
            reply.kind = .raw(bytes)
            return reply
        }

        public static var silence: Reply {
            var reply = Reply()
            reply.kind = .silence
            return reply
        }

        public static var hangUp: Reply {
            var reply = Reply()
            reply.kind = .hangUp
            return reply
        }

        public static var reset: Reply {
            var reply = Reply()
            reply.kind = .reset
            return reply
        }
    }

    public typealias Handler = @Sendable (Request) -> Reply

    /// The port it listens on, on 127.0.0.1.
    public let port: UInt16
    private let listener: Int32
    /// A pipe whose read end becomes readable when the server stops: every wait polls it.
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let handler: Handler
    private var mutex = pthread_mutex_t()
    private var received: [Request] = []
    private var accepted = 0
    private var connectionSockets: [Int32] = []
    private var connectionThreads: [pthread_t] = []
    private var acceptThread: pthread_t?
    private var stopped = false

    /// Starts listening and serving; `handler` answers every request.
    public init(_ handler: @escaping Handler) throws {
        self.handler = handler
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw FakeHTTPServerError.setup("pipe", errno) }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        wakeRead = ends[0]
        wakeWrite = ends[1]
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else {
            let code = errno
            for end in ends { Glibc.close(end) }
            throw FakeHTTPServerError.setup("socket", code)
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(socket, pointer, length) == 0 && listen(socket, 128) == 0 && getsockname(socket, pointer, &length) == 0
            }
        }
        guard bound else {
            let code = errno
            for descriptor in ends + [socket] { Glibc.close(descriptor) }
            throw FakeHTTPServerError.setup("bind/listen", code)
        }
        listener = socket
        port = UInt16(bigEndian: address.sin_port)
        pthread_mutex_init(&mutex, nil)
        acceptThread = startThread { [self] in acceptLoop() }
    }

    /// Answers the `replies` in order, one per request; requests beyond them get a 500.
    public convenience init(replies: [Reply]) throws {
        try self.init { request in
            request.index < replies.count ? replies[request.index] : .text("unscripted request", status: 500)
        }
    }

    deinit {
        pthread_mutex_destroy(&mutex)
    }

    /// The requests received so far, in arrival order.
    public var requests: [Request] { locked { received } }

    /// The connections accepted so far.
    public var connectionsAccepted: Int { locked { accepted } }

    /// Stops serving: wakes every thread (a stalled or delayed reply ends at once), joins them
    /// and closes every socket. Idempotent.
    public func stop() {
        let alreadyStopped = locked { () -> Bool in
            defer { stopped = true }
            return stopped
        }
        guard !alreadyStopped else { return }
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
        if let acceptThread { pthread_join(acceptThread, nil) }
        // No new connection threads after the accept thread is gone. Sockets are shut down
        // under the lock, so none is closed (and its number reused) meanwhile.
        let threads = locked { () -> [pthread_t] in
            for socket in connectionSockets { shutdown(socket, Int32(SHUT_RDWR)) }
            return connectionThreads
        }
        for thread in threads { pthread_join(thread, nil) }
        Glibc.close(listener)
        Glibc.close(wakeRead)
        Glibc.close(wakeWrite)
    }

    // MARK: - Serving

    private func acceptLoop() {
        while true {
            var fds = [
                pollfd(fd: listener, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
            ]
            guard poll(&fds, 2, -1) >= 0 || errno == EINTR else { return }
            if fds[1].revents != 0 { return }
            guard fds[0].revents != 0 else { continue }
            let socket = accept(listener, nil, nil)
            guard socket >= 0 else { continue }
            _ = fcntl(socket, F_SETFD, FD_CLOEXEC)
            var one: Int32 = 1
            setsockopt(socket, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let index = locked { () -> Int in
                accepted += 1
                connectionSockets.append(socket)
                return accepted - 1
            }
            let thread = startThread { [self] in serve(socket, connection: index) }
            locked { connectionThreads.append(thread) }
        }
    }

    /// Serves requests on one connection until either side closes it, then closes the socket
    /// (under the lock: `stop()` may be shutting it down to wake this thread).
    private func serve(_ socket: Int32, connection: Int) {
        var pending: [UInt8] = []
        defer {
            locked {
                connectionSockets.removeAll { $0 == socket }
                Glibc.close(socket)
            }
        }
        while true {
            guard let (request, keepAlive) = readRequest(socket, connection: connection, pending: &pending) else { return }
            let reply = handler(request)
            if reply.delay > 0, !sleepUnlessStopped(reply.delay) { return }
            switch reply.kind {
            case .raw(let bytes):
                sendAll(socket, bytes)
                waitForClientToLeave(socket)
                return
            case .silence:
                waitForClientToLeave(socket)
                return
            case .hangUp:
                return
            case .reset:
                abortiveClose(socket)
                return
            case .response:
                guard respond(socket, reply, isHead: request.method == "HEAD") else { return }
                if !keepAlive || reply.closeAfterResponse || reply.framing == .closeDelimited { return }
            }
        }
    }

    /// Sends `reply`; false when the connection must end here (a body end other than `complete`).
    private func respond(_ socket: Int32, _ reply: Reply, isHead: Bool) -> Bool {
        let hasBody = !isHead && reply.status != 204 && reply.status != 304 && reply.status >= 200
        let custom = reply.headers.contains { ["content-length", "transfer-encoding"].contains($0.name.lowercased()) }
        var head = "HTTP/1.1 \(reply.status) \(reply.reason ?? Self.reason(reply.status))\r\n"
        for field in reply.headers { head += "\(field.name): \(field.value)\r\n" }
        if !custom && reply.status != 204 && reply.status >= 200 {
            switch reply.framing {
            case .contentLength: head += "Content-Length: \(reply.body.count)\r\n"
            case .chunked: head += "Transfer-Encoding: chunked\r\n"
            case .closeDelimited: head += "Connection: close\r\n"
            }
        }
        head += "\r\n"
        sendAll(socket, Array(head.utf8))
        guard hasBody else { return true }
        let cut: Int? = switch reply.bodyEnd {
        case .complete: nil
        case .close(let count), .reset(let count), .stall(let count): count
        }
        sendAll(socket, Self.wireBody(reply.body, framing: reply.framing, cut: cut))
        switch reply.bodyEnd {
        case .complete: return true
        case .close: return false
        case .reset: abortiveClose(socket)
        case .stall: waitForClientToLeave(socket)
        }
        return false
    }

    /// The body as framed on the wire, cut after `cut` body bytes when given (for chunked, in
    /// the middle of a chunk whose size line announced more).
    static func wireBody(_ body: [UInt8], framing: Reply.Framing, cut: Int?) -> [UInt8] {
        let sent = cut.map { min($0, body.count) } ?? body.count
        guard case .chunked(let chunkSize) = framing else { return Array(body[..<sent]) }
        var wire: [UInt8] = []
        var offset = 0
        while offset < sent {
            let size = min(max(1, chunkSize), body.count - offset)
            let take = min(size, sent - offset)
            wire += Array("\(String(size, radix: 16))\r\n".utf8) + body[offset..<(offset + take)]
            offset += take
            if take == size { wire += [13, 10] }
        }
        if cut == nil { wire += Array("0\r\n\r\n".utf8) }
        return wire
    }

    /// Reads one request head (and its Content-Length body). Nil when the client closed the
    /// connection, sent garbage, or the server is stopping.
    private func readRequest(_ socket: Int32, connection: Int, pending: inout [UInt8]) -> (Request, Bool)? {
        var headEnd: Int?
        while headEnd == nil {
            headEnd = Self.find([13, 10, 13, 10], in: pending)
            if headEnd == nil, !receive(socket, into: &pending) { return nil }
        }
        let headText = String(decoding: pending[..<headEnd!], as: UTF8.self)
        pending.removeFirst(headEnd! + 4)
        // "\r\n" is one Character (a grapheme cluster).
        var lines = headText.split(separator: "\r\n", omittingEmptySubsequences: false)
        let requestLine = lines.removeFirst().split(separator: " ", omittingEmptySubsequences: false)
        guard requestLine.count == 3 else { return nil }
        var headers: [(name: String, value: String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { return nil }
            headers.append((String(line[..<colon]), Self.trimmed(line[line.index(after: colon)...])))
        }
        let length = headers.first { $0.name.lowercased() == "content-length" }.flatMap { Int($0.value) } ?? 0
        while pending.count < length {
            if !receive(socket, into: &pending) { return nil }
        }
        let body = Array(pending[..<length])
        pending.removeFirst(length)
        let keepAlive = !headers.contains { $0.name.lowercased() == "connection" && $0.value.lowercased().contains("close") }
        let request = locked { () -> Request in
            let request = Request(
                method: String(requestLine[0]), target: String(requestLine[1]), headers: headers, body: body,
                connection: connection, index: received.count, arrival: monotonicSeconds())
            received.append(request)
            return request
        }
        return (request, keepAlive)
    }

    /// Appends what the socket has to `pending`; false at EOF, on error, or when stopping.
    private func receive(_ socket: Int32, into pending: inout [UInt8]) -> Bool {
        var fds = [pollfd(fd: socket, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
        while poll(&fds, 2, -1) < 0 {
            guard errno == EINTR else { return false }
        }
        if fds[1].revents != 0 { return false }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        let count = recv(socket, &buffer, buffer.count, 0)
        guard count > 0 else { return false }
        pending += buffer[..<count]
        return true
    }

    /// Waits until the client closes its side (reading and dropping what it sends) or the
    /// server stops.
    private func waitForClientToLeave(_ socket: Int32) {
        var scratch: [UInt8] = []
        while receive(socket, into: &scratch) { scratch.removeAll(keepingCapacity: true) }
    }

    /// Sleeps `seconds`; false when the server stopped meanwhile.
    private func sleepUnlessStopped(_ seconds: Double) -> Bool {
        var wake = pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)
        return poll(&wake, 1, Int32(seconds * 1000)) == 0
    }

    private func sendAll(_ socket: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count <= 0 {
                if count < 0 && errno == EINTR { continue }
                return
            }
            offset += count
        }
    }

    /// Makes the coming close send a RST instead of a FIN.
    private func abortiveClose(_ socket: Int32) {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(socket, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
    }

    private func locked<Result>(_ body: () -> Result) -> Result {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start..<(start + needle.count)].elementsEqual(needle) {
            return start
        }
        return nil
    }

    private static func trimmed(_ text: Substring) -> String {
        String(text.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }

    private static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 206: "Partial Content"
        case 204: "No Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 303: "See Other"
        case 304: "Not Modified"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 401: "Unauthorized"
        case 404: "Not Found"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }
}

public enum FakeHTTPServerError: Error {
    case setup(String, Int32)
}

/// Starts `body` on a new joinable POSIX thread.
private func startThread(_ body: @escaping @Sendable () -> Void) -> pthread_t {
    final class Box: Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    var thread = pthread_t()
    let context = Unmanaged.passRetained(Box(body)).toOpaque()
    let result = pthread_create(&thread, nil, { context in
        Unmanaged<Box>.fromOpaque(context!).takeRetainedValue().body()
        return nil
    }, context)
    precondition(result == 0, "pthread_create failed: \(result)")
    return thread
}
