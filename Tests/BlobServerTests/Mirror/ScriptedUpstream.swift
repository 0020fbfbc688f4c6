import BlobStore
import Dispatch
import Synchronization
@testable import BlobServer

/// An in-process upstream for mirror tests: each request is answered by `script`, and every
/// request is recorded. A reply's body is read in `chunkBytes` pieces; `pauseBeforeEnd` holds
/// the end of the body (the final read that returns 0) until the test opens it, and
/// `pauseAfter` holds the body after that many bytes, so a test can look at what clients
/// have while a fill is incomplete. Thread-safe.
final class ScriptedUpstream: UpstreamFetching {
    struct Reply: Sendable {
        var status: Int
        var headers: [(name: String, value: String)] = []
        var body: [UInt8] = []
        /// Announce this length instead of the body's (nil: the body's; `.some(nil)`: none).
        var announcedLength: UInt64?? = nil
        /// Fail the read after this many bytes, as a body the client could not resume.
        var breakAfter: Int? = nil
    }

    enum Failure: Error { case down }

    private let script: @Sendable (UpstreamRequest) -> Result<Reply, UpstreamError>
    private let log = Mutex<[UpstreamRequest]>([])
    let chunkBytes: Int
    /// Opened by the test to let held bodies go on.
    let gate = Gate()

    init(chunkBytes: Int = 64 << 10, _ script: @escaping @Sendable (UpstreamRequest) -> Result<Reply, UpstreamError>) {
        self.chunkBytes = chunkBytes
        self.script = script
    }

    /// Held bodies wait here: a body paused at some point goes on once `open` is called.
    final class Gate: Sendable {
        private let state = Mutex<(open: Bool, waiting: Int)>((false, 0))
        private let semaphore = DispatchSemaphore(value: 0)

        /// Whether `count` readers are waiting at the gate now.
        var waiting: Int { state.withLock { $0.waiting } }

        func open() {
            let waiting = state.withLock { state in
                state.open = true
                defer { state.waiting = 0 }
                return state.waiting
            }
            for _ in 0..<waiting { semaphore.signal() }
        }

        func pass() {
            let mustWait = state.withLock { state in
                if state.open { return false }
                state.waiting += 1
                return true
            }
            if mustWait { semaphore.wait() }
        }
    }

    /// Whether reads stop before the end (`pauseBeforeEnd`) or after some bytes (`pauseAfter`)
    /// until the gate opens.
    let pauseBeforeEnd = Atomic<Bool>(false)
    let pauseAfter = Atomic<Int>(-1)

    var requests: [UpstreamRequest] { log.withLock { $0 } }

    func count(_ method: UpstreamRequest.Method, pathSuffix: String) -> Int {
        requests.filter { $0.method == method && $0.path.hasSuffix(pathSuffix) }.count
    }

    func send(_ request: UpstreamRequest) throws(UpstreamError) -> any UpstreamResponse {
        log.withLock { $0.append(request) }
        let reply = try script(request).get()
        return ScriptedResponse(reply, isHead: request.method == .head, upstream: self)
    }
}

/// One reply of a `ScriptedUpstream`, read in chunks.
final class ScriptedResponse: UpstreamResponse, @unchecked Sendable {
    private let reply: ScriptedUpstream.Reply
    private let upstream: ScriptedUpstream
    private var offset = 0
    private let body: [UInt8]
    private var pausedAt = false

    init(_ reply: ScriptedUpstream.Reply, isHead: Bool, upstream: ScriptedUpstream) {
        self.reply = reply
        self.upstream = upstream
        body = isHead ? [] : reply.body
    }

    var status: Int { reply.status }

    func header(_ name: String) -> String? {
        reply.headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    var contentLength: UInt64? {
        if let announced = reply.announcedLength { return announced }
        return UInt64(reply.body.count)
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(UpstreamError) -> Int {
        let pauseAfter = upstream.pauseAfter.load(ordering: .relaxed)
        if pauseAfter >= 0, offset >= pauseAfter, !pausedAt {
            pausedAt = true
            upstream.gate.pass()
        }
        if let breakAfter = reply.breakAfter, offset >= breakAfter { throw .bodyBroken("scripted break") }
        if offset == body.count {
            if upstream.pauseBeforeEnd.load(ordering: .relaxed) { upstream.gate.pass() }
            return 0
        }
        var count = min(buffer.count, upstream.chunkBytes, body.count - offset)
        if pauseAfter >= 0, offset < pauseAfter { count = min(count, pauseAfter - offset) }
        if let breakAfter = reply.breakAfter { count = min(count, max(0, breakAfter - offset)) }
        body[offset..<offset + count].withUnsafeBytes { buffer.copyMemory(from: $0) }
        offset += count
        return count
    }

    func finish() {}
    func abandon() {}
}
