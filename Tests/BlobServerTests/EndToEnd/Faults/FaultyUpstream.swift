import BlobStore
import Glibc
import Synchronization
@testable import BlobServer

/// A registry that holds one blob and serves its HEAD and GET with a chosen fault: a slow drip,
/// a stall or a reset mid-body, the wrong bytes, an error status, or no answer at all. The test
/// switches the fault off (`fault = .none`) to see what the mirror does once the upstream
/// behaves. Ranged GETs (`Range: bytes=N-`, as a fill resumes) get a 206 of the rest. Every
/// other path is 404. Connections are kept alive; every request is recorded.
///
/// Lifecycle as `LoopbackTCPServer`: call `stop()` in a `defer`. Thread-safe.
final class FaultyUpstream: Sendable {
    enum Fault: Sendable, Equatable {
        /// Every request answered correctly.
        case none
        /// Bodies in pieces of `bytesPerSecond / 10` bytes every 100 ms.
        case drip(bytesPerSecond: Int)
        /// GETs without `Range` send `afterBytes` body bytes and then nothing, until the client
        /// leaves; ranged GETs are answered whole.
        case stallUnranged(afterBytes: Int)
        /// GETs without `Range` send `afterBytes` body bytes, wait until they can have been read,
        /// then reset the connection; ranged GETs are answered whole.
        case resetUnranged(afterBytes: Int)
        /// Every GET, ranged or not, resets after `afterBytes` of its body.
        case resetEveryBody(afterBytes: Int)
        /// GET bodies of the right length with other content.
        case wrongBytes
        /// The first `times` requests (HEAD or GET) since the fault was set are answered
        /// `status`, with `Retry-After` when given; later ones correctly.
        case status(Int, times: Int, retryAfter: String?)
        /// Requests are read and never answered.
        case silence
    }

    /// One request as received.
    struct Received: Sendable {
        let method: String
        let target: String
        let range: String?
        /// `monotonicSeconds()` when its head was complete.
        let arrival: Double
    }

    private struct State {
        var fault: Fault
        /// Requests answered since `fault` was set, for `.status(_, times:, _)`.
        var requestsUnderFault = 0
        var received: [Received] = []
    }

    /// The state, shared with the connection threads.
    private final class Shared: Sendable {
        let state: Mutex<State>
        init(_ fault: Fault) { state = Mutex(State(fault: fault)) }
    }

    let blob: [UInt8]
    let digest: Digest
    let repository: String
    private let server: LoopbackTCPServer
    private let shared: Shared

    /// `http://127.0.0.1:PORT`, to give as an upstream URL.
    var baseURL: String { "http://\(server.address)" }
    /// `/v2/<repository>/blobs/<digest>`: the blob's path here and on the mirror.
    var blobPath: String { "/v2/\(repository)/blobs/\(digest)" }

    /// The fault in force; setting it starts its request count again.
    var fault: Fault {
        get { shared.state.withLock { $0.fault } }
        set { shared.state.withLock { $0 = State(fault: newValue, received: $0.received) } }
    }

    /// Every request received so far, in arrival order.
    var received: [Received] { shared.state.withLock { $0.received } }

    /// The GETs of the blob received so far.
    var blobGets: [Received] { received.filter { $0.method == "GET" && $0.target == blobPath } }

    /// Listens on `address` (port 0: the kernel picks) and serves `blob` in `repository`.
    init(blob: [UInt8], repository: String = "faults/image", fault: Fault, on address: SocketAddress? = nil) throws {
        let digest = Digest.of(blob)
        self.blob = blob
        self.digest = digest
        self.repository = repository
        let shared = Shared(fault)
        self.shared = shared
        let blobPath = "/v2/\(repository)/blobs/\(digest)"
        server = try LoopbackTCPServer(listeningOn: address ?? SocketAddress(parsing: "127.0.0.1:0")) { connection in
            var pending: [UInt8] = []
            while let head = connection.nextHead(pending: &pending) {
                let request = Self.parse(head)
                let fault = shared.state.withLock { state in
                    state.received.append(request)
                    state.requestsUnderFault += 1
                    return state.fault.applies(toRequestNumber: state.requestsUnderFault) ? state.fault : .none
                }
                let keepGoing = request.target == blobPath && (request.method == "GET" || request.method == "HEAD")
                    ? Self.answer(request, with: fault, blob: blob, digest: digest, on: connection)
                    : sendAll(connection.socket, Array("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".utf8))
                guard keepGoing else { return }
            }
        }
    }

    func stop() { server.stop() }

    /// Answers one request for the blob; false when the connection must end.
    private static func answer(
        _ request: Received, with fault: Fault, blob: [UInt8], digest: Digest, on connection: LoopbackTCPServer.Connection
    ) -> Bool {
        let socket = connection.socket
        if case .silence = fault {
            waitForClientToLeave(connection)
            return false
        }
        if case .status(let status, _, let retryAfter) = fault {
            let body = Array(#"{"errors":[{"code":"UNAVAILABLE","message":"scripted fault"}]}"#.utf8)
            var head = "HTTP/1.1 \(status) Scripted\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n"
            if let retryAfter { head += "Retry-After: \(retryAfter)\r\n" }
            return sendAll(socket, Array((head + "\r\n").utf8) + (request.method == "HEAD" ? [] : body))
        }
        // `Range: bytes=N-` only: what a resuming fill sends.
        let first = request.range.flatMap { range -> Int? in
            guard range.hasPrefix("bytes="), range.hasSuffix("-") else { return nil }
            return Int(range.dropFirst("bytes=".count).dropLast())
        }.map { min($0, blob.count) }
        let body = fault == .wrongBytes ? blob.map { $0 ^ 0x5A } : blob
        let part = body[(first ?? 0)...]
        var head = first == nil ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes \(first!)-\(blob.count - 1)/\(blob.count)\r\n"
        head += "Content-Type: application/octet-stream\r\nDocker-Content-Digest: \(digest)\r\nContent-Length: \(part.count)\r\n\r\n"
        guard sendAll(socket, Array(head.utf8)) else { return false }
        guard request.method == "GET" else { return true }
        switch fault {
        case .drip(let bytesPerSecond):
            let piece = max(1, bytesPerSecond / 10)
            var offset = part.startIndex
            while offset < part.endIndex {
                let end = min(offset + piece, part.endIndex)
                guard sendAll(socket, part[offset..<end]), !isStopping(connection, waitingMilliseconds: 100) else { return false }
                offset = end
            }
            return true
        case .stallUnranged(let count) where first == nil:
            _ = sendAll(socket, part.prefix(count))
            waitForClientToLeave(connection)
            return false
        case .resetUnranged(let count) where first == nil:
            return reset(connection, after: part.prefix(count))
        case .resetEveryBody(let count):
            return reset(connection, after: part.prefix(count))
        default:
            return sendAll(socket, part)
        }
    }

    /// Sends `bytes`, gives the client time to read them (a reset discards what the receiver
    /// has not read yet), then resets. Always false: the connection is over.
    private static func reset(_ connection: LoopbackTCPServer.Connection, after bytes: ArraySlice<UInt8>) -> Bool {
        _ = sendAll(connection.socket, bytes)
        _ = isStopping(connection, waitingMilliseconds: 200)
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(connection.socket, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        return false
    }

    /// Waits up to `waitingMilliseconds`; true when the server began stopping meanwhile.
    private static func isStopping(_ connection: LoopbackTCPServer.Connection, waitingMilliseconds: Int32) -> Bool {
        var stopping = pollfd(fd: connection.stopping, events: Int16(POLLIN), revents: 0)
        return poll(&stopping, 1, waitingMilliseconds) > 0
    }

    /// Reads and drops input until the client closes or the server stops.
    private static func waitForClientToLeave(_ connection: LoopbackTCPServer.Connection) {
        var scratch = [UInt8](repeating: 0, count: 4096)
        while true {
            var descriptors = [
                pollfd(fd: connection.stopping, events: Int16(POLLIN), revents: 0),
                pollfd(fd: connection.socket, events: Int16(POLLIN), revents: 0),
            ]
            guard poll(&descriptors, 2, -1) >= 0 || errno == EINTR else { return }
            if descriptors[0].revents != 0 { return }
            guard descriptors[1].revents != 0 else { continue }
            guard scratch.withUnsafeMutableBytes({ recv(connection.socket, $0.baseAddress, $0.count, 0) }) > 0 else { return }
        }
    }

    private static func parse(_ head: String) -> Received {
        let lines = head.split(separator: "\r\n")
        let requestLine = (lines.first ?? "").split(separator: " ")
        let range = lines.dropFirst().first { $0.lowercased().hasPrefix("range:") }
            .map { String($0.dropFirst("range:".count)).trimmingCharacters() }
        return Received(
            method: requestLine.first.map(String.init) ?? "", target: requestLine.dropFirst().first.map(String.init) ?? "",
            range: range, arrival: monotonicSeconds())
    }
}

extension FaultyUpstream.Fault {
    /// Whether the `number`th request (from 1) since the fault was set meets it.
    func applies(toRequestNumber number: Int) -> Bool {
        if case .status(_, let times, _) = self { return number <= times }
        return true
    }
}
