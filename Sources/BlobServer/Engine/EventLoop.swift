import BlobStore
import CBlobSys
import Glibc
import Synchronization

/// One event loop: a thread with its own epoll instance, its own SO_REUSEPORT listener, and the
/// connections the kernel hands that listener. Sockets are non-blocking and registered once,
/// edge-triggered, for input and output; each connection is a `Connection` in a slot, and its
/// epoll token is its slot and generation, so a stale event never reaches a reused slot.
///
/// Threading: everything but `post` and `requestStop` belongs to the loop's thread. Workers
/// report through `post`, which queues a result and signals the loop's eventfd.
final class EventLoop: @unchecked Sendable {
    let index: Int
    private let services: ServerServices
    private let epoll: Epoll
    private let wakeup: Wakeup
    private let listener: ListeningSocket
    private let limits: ServerLimits
    private let pool: BufferPool
    private let largePool: BufferPool
    private let descriptors: DescriptorCache
    private let metrics: ServerMetrics.Shard

    private var connections: [Connection?]
    private var freeSlots: [Int]
    private var generation: UInt64 = 0
    private var open = 0
    private var acceptPaused = false
    private var waitingForBuffer: [UInt64] = []
    private var timers: [TimeoutList]
    private var date = HTTPDate()
    private var dateBytes: [UInt8] = []
    private var now: UInt64 = 0
    private var nextTick: UInt64 = 0
    private var boundaryCounter: UInt64 = 0
    /// Connections were open since the last heap trim.
    private var busySinceTrim = false
    private let boundarySeed = UInt64.random(in: 0...UInt64.max)

    private let mailbox = Mutex<[(token: UInt64, result: WorkResult)]>([])
    private let stopRequested = Atomic<UInt64>(0)
    private var draining = false
    private var drainDeadline: UInt64 = 0

    private static let listenerToken = UInt64.max
    private static let wakeupToken = UInt64.max - 1

    /// Binds this loop's listener; `run` serves it.
    init(index: Int, address: SocketAddress, reusePort: Bool, services: ServerServices, limits: ServerLimits) throws(SystemError) {
        self.index = index
        self.services = services
        self.limits = limits
        epoll = try Epoll()
        wakeup = try Wakeup()
        listener = try ListeningSocket(binding: address, reusePort: reusePort)
        pool = BufferPool(bufferSize: limits.bufferBytes, capacity: limits.buffersPerLoop)
        largePool = BufferPool(bufferSize: ServerLimits.largeBufferBytes, capacity: limits.largeBuffersPerLoop)
        descriptors = DescriptorCache(capacity: limits.cachedDescriptorsPerLoop)
        metrics = services.metrics.shards[index]
        connections = Array(repeating: nil, count: limits.connectionsPerLoop)
        freeSlots = (0..<limits.connectionsPerLoop).reversed()
        let capacity = limits.connectionsPerLoop
        timers = [limits.headerTimeoutSeconds, limits.idleTimeoutSeconds, limits.bodyTimeoutSeconds,
                  limits.writeTimeoutSeconds, limits.lingerSeconds].map {
            TimeoutList(duration: UInt64($0 * 1e9), capacity: capacity)
        }
        try epoll.register(listener.descriptor.rawValue, token: Self.listenerToken, interest: .readable)
        try epoll.register(wakeup.descriptor.rawValue, token: Self.wakeupToken, interest: .readable)
    }

    /// The address the listener is bound to (with the real port when 0 was asked for).
    var address: SocketAddress { listener.address }

    /// Connections open now (the loop's thread only).
    var openConnections: Int { open }

    // MARK: Cross-thread entry points

    /// Hands a worker's result to the loop. Any thread.
    func post(_ token: UInt64, _ result: WorkResult) {
        mailbox.withLock { $0.append((token, result)) }
        wakeup.signal()
    }

    /// Asks the loop to stop accepting, finish in-flight responses (closing idle connections at
    /// once) and return from `run` when none is left or `drainSeconds` have passed. Any thread.
    func requestStop(drainSeconds: Double) {
        stopRequested.store(UInt64(max(0, drainSeconds) * 1e9) + 1, ordering: .releasing)
        wakeup.signal()
    }

    // MARK: The loop

    /// Serves until stopped and drained. Runs on the loop's own thread.
    func run() {
        refreshClock()
        nextTick = now + 1_000_000_000
        while true {
            let wait = waitMilliseconds()
            // The clock is read once per wakeup, before the first event, so request times start
            // when their bytes arrived and not when the loop last woke.
            var clockRead = false
            do {
                try epoll.wait(timeoutMilliseconds: wait) { event in
                    if !clockRead {
                        refreshClock()
                        clockRead = true
                    }
                    handle(event)
                }
            } catch {
                services.logger.error("epoll_wait failed", ["loop": .int(Int64(index)), "error": .string("\(error)")])
                return
            }
            if !clockRead { refreshClock() }
            deliverMail()
            expireTimers()
            serveBufferWaiters()
            if now >= nextTick {
                nextTick = now + 1_000_000_000
                tick()
            }
            if checkStop() { return }
        }
    }

    private func refreshClock() {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        now = UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
        dateBytes = date.bytes(now: Glibc.time(nil))
    }

    private func waitMilliseconds() -> Int32 {
        var wait = nextTick > now ? nextTick - now : 0
        for list in timers {
            if let left = list.timeUntilNextDeadline(now: now) { wait = min(wait, left) }
        }
        if draining { wait = min(wait, 50_000_000) }
        return Int32((wait + 999_999) / 1_000_000)
    }

    private func handle(_ event: Epoll.Event) {
        switch event.token {
        case Self.listenerToken: acceptConnections()
        case Self.wakeupToken: wakeup.drain()
        default:
            guard let connection = lookup(event.token) else { return }
            if event.isReadable { connection.mayRead = true }
            if event.isWritable { connection.mayWrite = true }
            if event.isHangUp {
                connection.peerClosed = true
                if case .working = connection.phase { connection.closeWhenIdle = true } else { close(connection) }
                return
            }
            drive(connection)
        }
    }

    private func lookup(_ token: UInt64) -> Connection? {
        let slot = Int(token & 0xFFFF_FFFF)
        guard slot < connections.count, let connection = connections[slot], connection.token == token else { return nil }
        return connection
    }

    private func tick() {
        descriptors.sweep { !services.store.isIndexed($0) }
        pool.returnIdlePages(keeping: 16)
        largePool.returnIdlePages(keeping: 0)
        if open == 0, busySinceTrim {
            // Quiet again after traffic: hand freed heap back too, so idle RSS returns to idle.
            busySinceTrim = false
            cbs_trim_heap()
        } else if open > 0 {
            busySinceTrim = true
        }
        if index == 0 {
            let handler = services.handler
            let seconds = now / 1_000_000_000
            services.workers.submit { _ in handler.tick(now: seconds) }
        }
    }

    /// True when the loop should return.
    private func checkStop() -> Bool {
        let request = stopRequested.load(ordering: .acquiring)
        if request != 0, !draining {
            draining = true
            drainDeadline = now + request - 1
            epoll.remove(listener.descriptor.rawValue)
            // New connections are refused from now on rather than left in the backlog
            // unanswered: a peer or a load balancer moves on at once.
            shutdown(listener.descriptor.rawValue, Int32(SHUT_RDWR))
            for case let connection? in connections where connection.hasNoRequestInFlight { close(connection) }
        }
        guard draining else { return false }
        if now >= drainDeadline {
            for case let connection? in connections {
                if case .working = connection.phase { connection.closeWhenIdle = true } else { close(connection) }
            }
        }
        return open == 0
    }

    // MARK: Accepting

    private func acceptConnections() {
        while !freeSlots.isEmpty {
            let accepted: FileDescriptor?
            do {
                accepted = try listener.accept()
            } catch {
                // EMFILE and friends: stop for now; the listener stays readable and we retry.
                services.logger.warn("accept failed", ["error": .string("\(error)")])
                return
            }
            guard let accepted else { return }
            let socket = accepted.take()
            let slot = freeSlots.removeLast()
            generation &+= 1
            let token = (generation & 0xFFFF_FFFF) << 32 | UInt64(slot)
            let connection = Connection(socket: socket, slot: slot, token: token)
            do {
                try epoll.register(socket, token: token, interest: [.readable, .writable, .edgeTriggered])
            } catch {
                Glibc.close(socket)
                freeSlots.append(slot)
                continue
            }
            connections[slot] = connection
            open += 1
            metrics.connectionOpened()
            setTimer(connection, .idle)
            drive(connection)
        }
        // Full: leave the rest in the kernel's backlog until a slot frees.
        epoll.remove(listener.descriptor.rawValue)
        acceptPaused = true
    }

    // MARK: Driving a connection

    /// Advances `connection` as far as it can go without waiting.
    private func drive(_ connection: Connection) {
        while connections[connection.slot] === connection {
            switch connection.phase {
            case .working, .awaitingAction, .awaitingGrowth:
                return
            case .awaitingBody(let pump):
                guard connection.mayRead else { return }
                runPump(connection, pump, initial: [])
                return
            case .writing:
                guard connection.mayWrite else { return }
                switch flush(connection) {
                case .blocked, .handedToWorker: return
                case .waitingForGrowth:
                    clearTimer(connection)
                    connection.phase = .awaitingGrowth
                    return
                case .failed:
                    close(connection)
                    return
                case .done:
                    writeFinished(connection)
                }
            case .lingering:
                guard connection.mayRead else { return }
                if !discardInput(connection) { close(connection) }
                return
            case .readingHead:
                if connection.buffered > 0, parseNext(connection) { continue }
                if case .readingHead = connection.phase {} else { continue }
                if draining && connection.hasNoRequestInFlight {
                    close(connection)
                    return
                }
                guard connection.mayRead else {
                    releaseBufferIfEmpty(connection)
                    setTimer(connection, connection.buffered > 0 || connection.request != nil ? .header : .idle)
                    return
                }
                switch readInput(connection) {
                case .progress: continue
                case .waitingForBuffer, .wouldBlock: return
                case .closed:
                    close(connection)
                    return
                }
            }
        }
    }

    /// Parses the buffered bytes. True when a request started or failed (the phase moved on).
    private func parseNext(_ connection: Connection) -> Bool {
        guard let buffer = connection.buffer else { return false }
        let bytes = bytes(of: connection, buffer)
        let result = connection.parser.parseHead(UnsafeRawBufferPointer(rebasing: bytes[connection.start..<connection.end]))
        switch result {
        case .needMore:
            return false
        case .complete(let head, let consumed):
            connection.start += consumed
            // Nothing read past the head: the buffer goes back now, not when the response
            // ends, so slow readers of long responses do not hold the pool.
            releaseBufferIfEmpty(connection)
            begin(connection, head)
            return true
        case .error(let error):
            connection.request = Connection.InFlight(method: .other, path: "-", startNanoseconds: now, keepAlive: false)
            connection.closeAfterResponse = true
            connection.start = connection.end
            respond(connection, Response(status: error.status, body: .bytes(Array("\(error)\n".utf8), contentType: "text/plain")), isHead: false)
            return true
        }
    }

    private enum ReadResult { case progress, waitingForBuffer, wouldBlock, closed }

    private func readInput(_ connection: Connection) -> ReadResult {
        if connection.buffer == nil {
            guard let buffer = pool.acquire() else {
                if !connection.waitingForBuffer {
                    connection.waitingForBuffer = true
                    waitingForBuffer.append(connection.token)
                }
                return .waitingForBuffer
            }
            connection.buffer = buffer
            connection.bufferIsLarge = false
            connection.start = 0
            connection.end = 0
        }
        var capacity = bufferCapacity(connection)
        if connection.end == capacity {
            if connection.start > 0 {
                compact(connection)
            } else if !connection.bufferIsLarge, let large = largePool.acquire() {
                let old = connection.buffer!
                let target = largePool.bytes(of: large)
                target.copyMemory(from: UnsafeRawBufferPointer(rebasing: pool.bytes(of: old)[0..<connection.end]))
                pool.release(old)
                connection.buffer = large
                connection.bufferIsLarge = true
            } else {
                // No room to grow: the head is over every limit we could hold.
                connection.request = Connection.InFlight(method: .other, path: "-", startNanoseconds: now, keepAlive: false)
                connection.closeAfterResponse = true
                connection.start = connection.end
                respond(connection, Response(status: 431, body: .bytes(Array("request header fields too large\n".utf8), contentType: "text/plain")), isHead: false)
                return .progress
            }
            capacity = bufferCapacity(connection)
        }
        let space = bytes(of: connection, connection.buffer!)
        let want = capacity - connection.end
        let count = Glibc.read(connection.socket, space.baseAddress! + connection.end, want)
        if count > 0 {
            connection.end += count
            // A short read emptied the socket; the next edge will say when more arrives.
            if count < want { connection.mayRead = false }
            return .progress
        }
        if count == 0 {
            connection.peerClosed = true
            return .closed
        }
        switch cbs_errno() {
        case EAGAIN, EINTR:
            connection.mayRead = false
            return .progress
        default:
            return .closed
        }
    }

    private func bufferCapacity(_ connection: Connection) -> Int {
        connection.bufferIsLarge ? largePool.bufferSize : pool.bufferSize
    }

    private func bytes(of connection: Connection, _ buffer: BufferPool.Buffer) -> UnsafeMutableRawBufferPointer {
        connection.bufferIsLarge ? largePool.bytes(of: buffer) : pool.bytes(of: buffer)
    }

    private func compact(_ connection: Connection) {
        guard let buffer = connection.buffer, connection.start > 0 else { return }
        let bytes = bytes(of: connection, buffer)
        let count = connection.buffered
        if count > 0 {
            (bytes.baseAddress!).copyMemory(from: bytes.baseAddress! + connection.start, byteCount: count)
        }
        connection.start = 0
        connection.end = count
    }

    /// Gives the connection's buffer back when it holds nothing, so idle connections cost none.
    private func releaseBufferIfEmpty(_ connection: Connection) {
        guard let buffer = connection.buffer, connection.buffered == 0 else { return }
        if connection.bufferIsLarge { largePool.release(buffer) } else { pool.release(buffer) }
        connection.buffer = nil
        connection.start = 0
        connection.end = 0
    }

    /// Drives connections that waited for a buffer, while buffers are free. Runs between events,
    /// never inside another connection's transition.
    private func serveBufferWaiters() {
        while pool.available > 0, !waitingForBuffer.isEmpty {
            let token = waitingForBuffer.removeFirst()
            guard let waiter = lookup(token) else { continue }
            waiter.waitingForBuffer = false
            drive(waiter)
        }
    }

    // MARK: Requests

    private func begin(_ connection: Connection, _ head: HTTPRequestHead) {
        clearTimer(connection)
        connection.request = Connection.InFlight(method: head.method, path: head.path, startNanoseconds: now, keepAlive: head.keepAlive)
        switch head.body {
        case .none: connection.unreadBodyBytes = nil
        case .contentLength(let length): connection.unreadBodyBytes = length
        case .chunked: connection.unreadBodyBytes = .max
        }
        connection.warmedOnce = false
        let context = RequestContext(
            head: head, listenerIsLoopback: services.listenerIsLoopback, now: now / 1_000_000_000, socket: connection.socket)
        let (route, action) = services.handler.handle(context)
        connection.request?.route = route
        act(connection, head, action)
    }

    private func act(_ connection: Connection, _ head: HTTPRequestHead, _ action: HandlerAction) {
        switch action {
        case .respond(let response):
            respond(connection, response, head: head)
        case .blocking(let work):
            connection.phase = .working
            pendingHeads[connection.token] = head
            submit(connection) { _ in .action(work()) }
        case .receiveBody(let sink):
            receiveBody(connection, head, sink)
        case .awaiting(let start):
            clearTimer(connection)
            connection.phase = .awaitingAction
            pendingHeads[connection.token] = head
            let token = connection.token
            start(ActionCompletion { [self] action in post(token, .action(action)) })
        }
    }

    /// Request heads of connections whose handler work is on a worker.
    private var pendingHeads: [UInt64: HTTPRequestHead] = [:]

    private func receiveBody(_ connection: Connection, _ head: HTTPRequestHead, _ sink: any RequestBodySink) {
        let framing: BodyPump.Framing
        var initial: [UInt8] = []
        let available = connection.buffered
        switch head.body {
        case .none:
            framing = .length(0)
        case .contentLength(let length):
            framing = .length(length)
            let take = Int(min(UInt64(available), length))
            initial = takeBuffered(connection, count: take)
        case .chunked:
            framing = .chunked(ChunkedBodyDecoder(maxBodyBytes: limits.maxChunkedBodyBytes))
            initial = takeBuffered(connection, count: available)
        }
        connection.unreadBodyBytes = nil
        let pump = BodyPump(socket: connection.socket, sink: sink, framing: framing)
        if head.expectContinue, head.body != .none, initial.isEmpty {
            connection.outgoing.append(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
            connection.afterWrite = .startBody(pump, initial: [])
            connection.phase = .writing
            drive(connection)
        } else {
            runPump(connection, pump, initial: initial)
        }
    }

    private func takeBuffered(_ connection: Connection, count: Int) -> [UInt8] {
        guard count > 0, let buffer = connection.buffer else { return [] }
        let bytes = bytes(of: connection, buffer)
        let taken = Array(UnsafeRawBufferPointer(rebasing: bytes[connection.start..<connection.start + count]))
        connection.start += count
        releaseBufferIfEmpty(connection)
        return taken
    }

    private func runPump(_ connection: Connection, _ pump: BodyPump, initial: [UInt8]) {
        clearTimer(connection)
        connection.phase = .working
        connection.mayRead = false
        submit(connection) { context in .pumped(pump.run(initial: initial, scratch: context.scratch)) }
    }

    private func submit(_ connection: Connection, _ job: @escaping @Sendable (WorkerPool.Context) -> WorkResult) {
        let token = connection.token
        services.workers.submit { [self] context in post(token, job(context)) }
    }

    private func deliverMail() {
        let mail = mailbox.withLock { mail in
            defer { mail.removeAll(keepingCapacity: true) }
            return mail
        }
        for (token, result) in mail {
            guard let connection = lookup(token) else {
                if case .opened(let descriptor, _) = result { Glibc.close(descriptor) }
                continue
            }
            if case .growingBlobChanged = result {
                // A wake-up may be stale (the response moved on since it registered).
                if case .awaitingGrowth = connection.phase {
                    connection.phase = .writing
                    drive(connection)
                }
                continue
            }
            connection.phase = .readingHead
            let head = pendingHeads.removeValue(forKey: token)
            if connection.closeWhenIdle {
                abandonWork(result)
                close(connection)
                continue
            }
            complete(connection, head, result)
        }
    }

    /// Releases what a result holds when its connection is gone.
    private func abandonWork(_ result: WorkResult) {
        switch result {
        case .opened(let descriptor, _): Glibc.close(descriptor)
        case .pumped(.needInput(let pump)):
            services.workers.submit { _ in pump.sink.abandon() }
        case .action(.receiveBody(let sink)):
            services.workers.submit { _ in sink.abandon() }
        default: break
        }
    }

    private func complete(_ connection: Connection, _ head: HTTPRequestHead?, _ result: WorkResult) {
        switch result {
        case .action(let action):
            guard let head else { return close(connection) }
            act(connection, head, action)
        case .opened(let descriptor, let size):
            guard let head, let pending = pendingBlob.removeValue(forKey: connection.token) else {
                Glibc.close(descriptor)
                return close(connection)
            }
            let cached = descriptors.insert(pending.digest, descriptor: descriptor, size: size)
            if !cached { connection.ownedFile = descriptor }
            serveBlob(connection, head, pending, descriptor: descriptor, size: size)
        case .openFailed(let missing, let reason):
            guard let head, let pending = pendingBlob.removeValue(forKey: connection.token) else { return close(connection) }
            if missing {
                respond(connection, Self.blobMissing(pending), head: head)
            } else {
                services.logger.error("cannot open blob", ["digest": .string(pending.digest.description), "error": .string(reason)])
                emit(connection, ResponseAssembly.internalError(date: dateBytes, detail: "cannot open the blob"), isHead: head.method == .head)
            }
        case .warmed:
            guard let head, let pending = pendingBlob.removeValue(forKey: connection.token) else { return close(connection) }
            connection.warmedOnce = true
            let descriptor = connection.ownedFile >= 0 ? connection.ownedFile : descriptors.lookup(pending.digest)?.descriptor
            guard let descriptor, let size = pending.size else {
                // The cache let the descriptor go meanwhile: open the blob again.
                return openOnWorker(connection, head, pending)
            }
            serveBlob(connection, head, pending, descriptor: descriptor, size: size)
        case .sentFile(let sent, let wouldBlock, let failed):
            connection.phase = .writing
            connection.outgoing.advance(by: sent)
            noteSentFromFile(connection, sent)
            if failed { return close(connection) }
            if wouldBlock {
                // A writable edge that came while the worker held the socket may be the one
                // that says room is back: try again rather than wait for another.
                if !connection.mayWrite { setTimer(connection, .write) }
            } else {
                connection.mayWrite = true
            }
            drive(connection)
        case .pumped(let outcome):
            pumpStopped(connection, outcome)
        case .none, .growingBlobChanged:
            drive(connection)
        }
    }

    private func pumpStopped(_ connection: Connection, _ outcome: BodyPump.Outcome) {
        switch outcome {
        case .needInput(let pump):
            connection.phase = .awaitingBody(pump)
            setTimer(connection, .body)
            drive(connection)
        case .finished(let response, let leftover, let received):
            metrics.bytesReceived(received)
            if !leftover.isEmpty { restoreInput(connection, leftover) }
            respond(connection, response, isHead: false)
        case .refused(let response):
            connection.closeAfterResponse = true
            respond(connection, response, isHead: false)
        case .malformed(let status):
            connection.closeAfterResponse = true
            respond(connection, Response(status: status, body: .bytes(Array("malformed request body\n".utf8), contentType: "text/plain")), isHead: false)
        case .disconnected:
            close(connection)
        }
    }

    /// Puts bytes read past a chunked body back in front of the connection's input.
    private func restoreInput(_ connection: Connection, _ bytes: [UInt8]) {
        if connection.buffer == nil, let buffer = pool.acquire() {
            connection.buffer = buffer
            connection.bufferIsLarge = false
            connection.start = 0
            connection.end = 0
        }
        guard let buffer = connection.buffer, connection.buffered == 0, bytes.count <= bufferCapacity(connection) else {
            // Pipelining that much behind a chunked upload is not worth a buffer: answer, close.
            connection.closeAfterResponse = true
            return
        }
        let space = self.bytes(of: connection, buffer)
        bytes.withUnsafeBytes { space.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        connection.start = 0
        connection.end = bytes.count
        connection.mayRead = true
    }

    // MARK: Responses

    /// A blob response waiting for a worker to open or warm the blob.
    private struct PendingBlob {
        let digest: Digest
        let contentType: String
        let isManifest: Bool
        let headers: [(name: String, value: String)]
        var size: UInt64?
    }

    private var pendingBlob: [UInt64: PendingBlob] = [:]

    private static func blobMissing(_ pending: PendingBlob) -> Response {
        Response(OCIError(pending.isManifest ? .manifestUnknown : .blobUnknown, detail: pending.digest.description))
    }

    private func respond(_ connection: Connection, _ response: Response, head: HTTPRequestHead) {
        // A blob answer that turns into a 404 keeps the hook it started with.
        if let whenEnded = response.whenEnded { connection.responseEnded = whenEnded }
        if case .blob(let digest, let contentType, let isManifest) = response.body {
            let pending = PendingBlob(digest: digest, contentType: contentType, isManifest: isManifest, headers: response.headers)
            guard let size = services.store.touchIndexed(digest) else {
                // Not indexed: it may still be on disk (adopted on open), so open it on a worker.
                openOnWorker(connection, head, pending)
                return
            }
            if let cached = descriptors.lookup(digest) {
                serveBlob(connection, head, pending, descriptor: cached.descriptor, size: size)
            } else {
                var pending = pending
                pending.size = size
                openOnWorker(connection, head, pending)
            }
            return
        }
        if case .growing(let growing, let contentType) = response.body {
            let assembly = ResponseAssembly.blob(
                growing.digest, size: growing.size, contentType: contentType, extraHeaders: response.headers,
                request: head, date: dateBytes, boundary: nextBoundary)
            if assembly.parts.contains(where: { if case .blob = $0 { true } else { false } }) {
                connection.growing = growing
            }
            connection.request?.servedDigest = growing.digest
            emit(connection, assembly, isHead: head.method == .head)
            return
        }
        respond(connection, response, isHead: head.method == .head)
    }

    private func openOnWorker(_ connection: Connection, _ head: HTTPRequestHead, _ pending: PendingBlob) {
        connection.phase = .working
        pendingBlob[connection.token] = pending
        pendingHeads[connection.token] = head
        let store = services.store
        let digest = pending.digest
        submit(connection) { _ in
            do {
                guard let blob = try store.open(digest) else { return .openFailed(missing: true, reason: "") }
                let size = blob.size
                return .opened(descriptor: blob.takeDescriptor(), size: size)
            } catch {
                return .openFailed(missing: false, reason: "\(error)")
            }
        }
    }

    private func respond(_ connection: Connection, _ response: Response, isHead: Bool) {
        emit(connection, ResponseAssembly.plain(response, isHead: isHead, date: dateBytes), isHead: isHead)
    }

    /// Builds the blob's response; small ranges are read now when cached, or warmed on a worker.
    private func serveBlob(_ connection: Connection, _ head: HTTPRequestHead, _ pending: PendingBlob, descriptor: Int32, size: UInt64) {
        let assembly = ResponseAssembly.blob(
            pending.digest, size: size, contentType: pending.contentType, extraHeaders: pending.headers,
            request: head, date: dateBytes, boundary: nextBoundary)
        var parts: [MultipartByteranges.Part] = []
        parts.reserveCapacity(assembly.parts.count)
        var cold: [ByteRange] = []
        for part in assembly.parts {
            guard case .blob(let range) = part, range.count <= DescriptorCache.maxBlobBytes else {
                parts.append(part)
                continue
            }
            var bytes = [UInt8](repeating: 0, count: Int(range.count))
            let read = bytes.withUnsafeMutableBytes { space in
                connection.warmedOnce
                    ? pread(descriptor, space.baseAddress, space.count, off_t(range.first))
                    : cbs_pread_nowait(descriptor, space.baseAddress, space.count, off_t(range.first))
            }
            if read == Int(range.count) {
                parts.append(.literal(bytes))
            } else if read < 0, [EOPNOTSUPP, EINVAL].contains(cbs_errno()) {
                parts.append(part)  // No RWF_NOWAIT here: sendfile it like a large range.
            } else {
                cold.append(range)
            }
        }
        if !cold.isEmpty {
            warmOnWorker(connection, head, pending, descriptor: descriptor, size: size, ranges: cold)
            return
        }
        connection.request?.servedDigest = pending.digest
        if head.method != .head { services.store.noteRequested(pending.digest) }
        if parts.contains(where: { if case .blob = $0 { true } else { false } }), connection.ownedFile != descriptor {
            // A range to sendfile from a cached descriptor: a blob at the size limit whose pages
            // are uncached on a filesystem without RWF_NOWAIT. Own a duplicate for the send.
            connection.ownedFile = dup(descriptor)
        }
        var final = assembly
        final.parts = parts
        emit(connection, final, isHead: head.method == .head)
    }

    private func warmOnWorker(_ connection: Connection, _ head: HTTPRequestHead, _ pending: PendingBlob, descriptor: Int32, size: UInt64, ranges: [ByteRange]) {
        // The worker reads the pages through its own duplicate, so the cache may close ours.
        let duplicate = dup(descriptor)
        connection.phase = .working
        var pending = pending
        pending.size = size
        pendingBlob[connection.token] = pending
        pendingHeads[connection.token] = head
        submit(connection) { context in
            defer { Glibc.close(duplicate) }
            for range in ranges {
                var offset = range.first
                while offset <= range.last {
                    let count = Int(min(UInt64(context.scratch.count), range.last - offset + 1))
                    let read = pread(duplicate, context.scratch.baseAddress, count, off_t(offset))
                    if read <= 0 { break }
                    offset += UInt64(read)
                }
            }
            return .warmed
        }
    }

    private func nextBoundary() -> String {
        boundaryCounter &+= 1
        return "blobcache-" + String(boundarySeed, radix: 36) + "-" + String(boundaryCounter, radix: 36)
    }

    /// Queues an assembled response and starts sending it.
    private func emit(_ connection: Connection, _ assembly: ResponseAssembly, isHead: Bool) {
        if let pending = connection.unreadBodyBytes {
            // The handler did not read the body: skip it if it is all here, else close after.
            if pending <= UInt64(connection.buffered) {
                connection.start += Int(pending)
            } else {
                connection.closeAfterResponse = true
            }
            connection.unreadBodyBytes = nil
        }
        connection.request?.status = assembly.status
        connection.request?.bodyBytes = assembly.bodyLength
        let closing = connection.closeAfterResponse || draining || connection.request?.keepAlive == false
        if closing { connection.closeAfterResponse = true }
        connection.outgoing.append(assembly.head.encoded(closing: closing))
        let file = connection.growing?.descriptor ?? connection.ownedFile
        for part in assembly.parts {
            switch part {
            case .literal(let bytes): connection.outgoing.append(bytes)
            case .blob(let range):
                connection.outgoing.append(file: file, offset: range.first, count: range.count)
            }
        }
        connection.cachedUntil = 0
        connection.afterWrite = .finishRequest
        connection.phase = .writing
        connection.mayWrite = true
        drive(connection)
    }

    private enum FlushResult { case done, blocked, handedToWorker, waitingForGrowth, failed }

    private func flush(_ connection: Connection) -> FlushResult {
        while true {
            switch connection.outgoing.next() {
            case .done:
                return .done
            case .write(let slices):
                let written = writeGathered(connection.socket, slices)
                if written > 0 {
                    connection.outgoing.advance(by: written)
                    continue
                }
                if written < 0, cbs_errno() == EAGAIN {
                    connection.mayWrite = false
                    setTimer(connection, .write)
                    return .blocked
                }
                if written < 0, cbs_errno() == EINTR { continue }
                return .failed
            case .sendFile(let descriptor, let offset, var count):
                if let growing = connection.growing, descriptor == growing.descriptor {
                    switch growing.availability(from: offset, rangeEnd: offset + count, loop: self, token: connection.token) {
                    case .sendable(let end): count = end - offset
                    case .waiting: return .waitingForGrowth
                    case .failed:
                        // Cut off before the end: a wrong body never finishes cleanly.
                        return .failed
                    }
                }
                let window: UInt64 = 4 << 20
                if offset >= connection.cachedUntil {
                    let end = offset + min(count, window)
                    if Self.isCached(descriptor, offset: offset, end: end) {
                        connection.cachedUntil = end
                    } else {
                        sendOnWorker(connection, descriptor: descriptor, offset: offset, count: min(count, window))
                        return .handedToWorker
                    }
                }
                var position = off_t(offset)
                let chunk = Int(min(count, connection.cachedUntil - offset))
                let sent = cbs_sendfile(connection.socket, descriptor, &position, chunk)
                if sent > 0 {
                    connection.outgoing.advance(by: sent)
                    noteSentFromFile(connection, sent)
                    if sent < chunk, !connection.outgoing.isEmpty {
                        // A short send means the socket buffer is full; the kernel has flagged
                        // the socket, so a writable edge follows. Trying again now would only
                        // cost a call that returns EAGAIN.
                        connection.mayWrite = false
                        setTimer(connection, .write)
                        return .blocked
                    }
                    continue
                }
                if sent < 0, cbs_errno() == EAGAIN {
                    connection.mayWrite = false
                    setTimer(connection, .write)
                    return .blocked
                }
                if sent < 0, cbs_errno() == EINTR { continue }
                return .failed
            }
        }
    }

    /// Whether the first and last pages of `offset..<end` are in the page cache: a cheap probe
    /// (two one-byte RWF_NOWAIT reads) that readahead makes a good guess for the pages between.
    private static func isCached(_ descriptor: Int32, offset: UInt64, end: UInt64) -> Bool {
        var byte: UInt8 = 0
        for position in [offset, end - 1] {
            let read = cbs_pread_nowait(descriptor, &byte, 1, off_t(position))
            if read == 1 { continue }
            if read < 0, [EOPNOTSUPP, EINVAL].contains(cbs_errno()) { return true }
            return false
        }
        return true
    }

    /// Sends a window of a file whose pages are not cached from a worker, which may wait for
    /// the disk; the socket stays non-blocking, so the worker never waits for the client.
    private func sendOnWorker(_ connection: Connection, descriptor: Int32, offset: UInt64, count: UInt64) {
        let socket = connection.socket
        connection.phase = .working
        connection.mayWrite = false
        submit(connection) { _ in
            var position = off_t(offset)
            var total = 0
            while UInt64(total) < count {
                let sent = cbs_sendfile(socket, descriptor, &position, Int(count) - total)
                if sent > 0 {
                    total += sent
                    continue
                }
                if sent < 0, cbs_errno() == EINTR { continue }
                let wouldBlock = sent < 0 && cbs_errno() == EAGAIN
                return .sentFile(sent: total, wouldBlock: wouldBlock, failed: !wouldBlock)
            }
            return .sentFile(sent: total, wouldBlock: false, failed: false)
        }
    }

    /// Counts bytes just sent from the blob's file toward its resident page cache as they go,
    /// not when the response ends: the pages of long responses in flight (concurrency × blob
    /// size) are then within the budget too, and those of a response cut short are counted.
    private func noteSentFromFile(_ connection: Connection, _ sent: Int) {
        guard sent > 0, let digest = connection.request?.servedDigest else { return }
        services.store.noteServed(digest, bytes: UInt64(sent))
        connection.request?.sentFileBytes += UInt64(sent)
    }

    private func writeGathered(_ socket: Int32, _ slices: [ArraySlice<UInt8>]) -> Int {
        if slices.count == 1 {
            return slices[0].withUnsafeBytes { Glibc.write(socket, $0.baseAddress, $0.count) }
        }
        return withGatheredVectors(slices) { vectors in writev(socket, vectors.baseAddress, Int32(vectors.count)) }
    }

    private func writeFinished(_ connection: Connection) {
        switch connection.afterWrite {
        case .startBody(let pump, let initial):
            connection.afterWrite = .finishRequest
            runPump(connection, pump, initial: initial)
        case .finishRequest:
            finishRequest(connection)
        }
    }

    private func finishRequest(_ connection: Connection) {
        if let request = connection.request {
            let elapsed = now > request.startNanoseconds ? now - request.startNanoseconds : 0
            metrics.requestFinished(route: request.route, status: request.status, bytesSent: request.bodyBytes, nanoseconds: elapsed)
            if let digest = request.servedDigest, request.bodyBytes > 0 {
                // What went from the file was counted as it went. The rest was read into the
                // response (small blobs); a blob still arriving was not indexed while it went,
                // so the whole body counts now (capped at the blob's size).
                let uncounted = connection.growing != nil ? request.bodyBytes : request.bodyBytes - min(request.sentFileBytes, request.bodyBytes)
                if uncounted > 0 { services.store.noteServed(digest, bytes: uncounted) }
            }
            if services.logger.level <= .info {
                services.logger.info("request", [
                    "method": .string(request.method.token ?? "OTHER"), "path": .string(request.path),
                    "route": .string(request.route.rawValue), "status": .int(Int64(request.status)),
                    "bytes": .int(Int64(request.bodyBytes)), "ms": .double(Double(elapsed) / 1e6),
                ])
            }
        }
        connection.request = nil
        connection.growing = nil
        connection.endResponse()
        if connection.ownedFile >= 0 {
            Glibc.close(connection.ownedFile)
            connection.ownedFile = -1
        }
        if connection.closeAfterResponse {
            startLingering(connection)
            return
        }
        connection.phase = .readingHead
        releaseBufferIfEmpty(connection)
        setTimer(connection, connection.buffered > 0 ? .header : .idle)
    }

    /// Half-closes, then drops input until the client closes, so a client still sending does
    /// not get a reset that destroys the answer before it reads it.
    private func startLingering(_ connection: Connection) {
        if connection.peerClosed { return close(connection) }
        shutdown(connection.socket, Int32(SHUT_WR))
        connection.start = connection.end
        releaseBufferIfEmpty(connection)
        connection.phase = .lingering
        connection.mayRead = true
        setTimer(connection, .linger)
    }

    /// Reads and drops input; false at EOF or on an error.
    private func discardInput(_ connection: Connection) -> Bool {
        var sink = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        while true {
            let count = withUnsafeMutableBytes(of: &sink) { Glibc.read(connection.socket, $0.baseAddress, $0.count) }
            if count > 0 { continue }
            if count < 0, cbs_errno() == EAGAIN {
                connection.mayRead = false
                return true
            }
            if count < 0, cbs_errno() == EINTR { continue }
            return false
        }
    }

    // MARK: Timers and closing

    private func setTimer(_ connection: Connection, _ timer: Connection.Timer) {
        if connection.timer == timer && timer != .write && timer != .body { return }
        clearTimer(connection)
        timers[timer.rawValue].arm(connection.slot, now: now)
        connection.timer = timer
    }

    private func clearTimer(_ connection: Connection) {
        guard let timer = connection.timer else { return }
        timers[timer.rawValue].remove(connection.slot)
        connection.timer = nil
    }

    private func expireTimers() {
        for kind in [Connection.Timer.header, .idle, .body, .write, .linger] {
            while let slot = timers[kind.rawValue].popExpired(now: now) {
                guard let connection = connections[slot] else { continue }
                connection.timer = nil
                switch (kind, connection.phase) {
                case (.header, .readingHead):
                    // A client too slow to finish its head gets 408 and the connection closes.
                    connection.request = connection.request ?? Connection.InFlight(method: .other, path: "-", startNanoseconds: now, keepAlive: false)
                    connection.closeAfterResponse = true
                    connection.start = connection.end
                    respond(connection, Response(status: 408, body: .bytes(Array("request timeout\n".utf8), contentType: "text/plain")), isHead: false)
                case (.body, .awaitingBody(let pump)):
                    services.workers.submit { _ in pump.sink.abandon() }
                    close(connection)
                case (_, .working):
                    break
                default:
                    close(connection)
                }
            }
        }
    }

    private func close(_ connection: Connection) {
        guard connections[connection.slot] === connection else { return }
        if case .working = connection.phase {
            connection.closeWhenIdle = true
            return
        }
        if case .awaitingBody(let pump) = connection.phase {
            services.workers.submit { _ in pump.sink.abandon() }
        }
        clearTimer(connection)
        if connection.request != nil, connection.request?.status == 0 {
            connection.request?.status = 499
        }
        Glibc.close(connection.socket)
        if connection.ownedFile >= 0 { Glibc.close(connection.ownedFile) }
        connection.ownedFile = -1
        connection.growing = nil
        connection.endResponse()
        connections[connection.slot] = nil
        freeSlots.append(connection.slot)
        pendingHeads[connection.token] = nil
        pendingBlob[connection.token] = nil
        open -= 1
        metrics.connectionClosed()
        if let buffer = connection.buffer {
            connection.buffer = nil
            if connection.bufferIsLarge { largePool.release(buffer) } else { pool.release(buffer) }
        }
        if acceptPaused, !draining {
            acceptPaused = false
            do {
                try epoll.register(listener.descriptor.rawValue, token: Self.listenerToken, interest: .readable)
            } catch {
                services.logger.error("cannot resume accepting", ["error": .string("\(error)")])
            }
        }
    }
}

/// Calls `body` with iovecs over `slices`, valid for the call.
private func withGatheredVectors<R>(_ slices: [ArraySlice<UInt8>], _ body: (UnsafeBufferPointer<iovec>) -> R) -> R {
    var vectors: [iovec] = []
    vectors.reserveCapacity(slices.count)
    func gather(_ index: Int) -> R {
        guard index < slices.count else { return vectors.withUnsafeBufferPointer(body) }
        return slices[index].withUnsafeBytes { bytes in
            vectors.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count))
            return gather(index + 1)
        }
    }
    return gather(0)
}
