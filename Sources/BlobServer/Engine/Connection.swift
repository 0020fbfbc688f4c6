import BlobStore

/// One client connection's state, owned by its event loop's thread (never touched elsewhere;
/// worker jobs get copies of what they need and report back through the loop's mailbox).
final class Connection {
    enum Phase {
        /// Waiting for, reading or parsing a request head.
        case readingHead
        /// A worker job is running for this connection; the socket is the job's until it ends.
        case working
        /// A handler's `.awaiting` work runs elsewhere; its completion comes through the mailbox.
        /// Nothing holds the socket, so the connection may close meanwhile.
        case awaitingAction
        /// Sending a growing blob that has no more bytes yet; `growing` wakes it.
        case awaitingGrowth
        /// A body pump waits for the socket to become readable.
        case awaitingBody(BodyPump)
        /// Sending `outgoing`; then `afterWrite`.
        case writing
        /// Answered and half-closed: reading and dropping input until EOF or the linger timeout.
        case lingering
    }

    /// What to do once `outgoing` is sent.
    enum AfterWrite {
        case finishRequest
        /// `100 Continue` went out: start the body.
        case startBody(BodyPump, initial: [UInt8])
    }

    /// A request between its head and its last response byte, for the log and metrics.
    struct InFlight {
        let method: HTTPMethod
        let path: String
        let startNanoseconds: UInt64
        let keepAlive: Bool
        var route = RouteLabel.unknown
        var status = 0
        var bodyBytes: UInt64 = 0
        /// The blob whose bytes the response sends (for the page cache estimate).
        var servedDigest: Digest?
        /// Bytes sent from the blob's file so far, counted toward the estimate as they went.
        var sentFileBytes: UInt64 = 0
    }

    enum Timer: Int {
        case header, idle, body, write, linger
    }

    let socket: Int32
    let slot: Int
    let token: UInt64

    var phase = Phase.readingHead
    var afterWrite = AfterWrite.finishRequest
    var parser = HTTPRequestParser()
    var buffer: BufferPool.Buffer?
    var bufferIsLarge = false
    /// Unconsumed input is `buffer[start..<end]`.
    var start = 0
    var end = 0
    /// Edge-triggered epoll: set by a readable event, cleared when a read finds the socket
    /// empty. While false, reading would only return EAGAIN.
    var mayRead = true
    /// Likewise for writing: cleared by EAGAIN, set by a writable event.
    var mayWrite = true
    var outgoing = OutgoingWrites()
    /// The descriptor `outgoing` sends from when the connection owns it (-1: none).
    var ownedFile: Int32 = -1
    /// The growing blob the response sends, whose descriptor `outgoing` borrows meanwhile.
    var growing: GrowingBlob?
    /// The response's `whenEnded`, called once when it is sent or the connection closes.
    var responseEnded: (@Sendable () -> Void)?
    /// Bytes of `ownedFile` from here on were found cached; sendfile of them will not block.
    var cachedUntil: UInt64 = 0
    var request: InFlight?
    /// Body bytes of the current request not yet consumed (`.max`: a chunked body); nil when
    /// the body is consumed or there is none.
    var unreadBodyBytes: UInt64?
    /// Close once the current response is sent.
    var closeAfterResponse = false
    /// The client shut its sending side (read returned 0).
    var peerClosed = false
    /// A hang-up came while a worker held the socket: close when the job returns.
    var closeWhenIdle = false
    var timer: Timer?
    /// Queued for a read buffer (the pool was empty).
    var waitingForBuffer = false
    /// A cold read was warmed once for this response; a second miss reads on the loop.
    var warmedOnce = false

    init(socket: Int32, slot: Int, token: UInt64) {
        self.socket = socket
        self.slot = slot
        self.token = token
    }

    var buffered: Int { end - start }

    /// Calls the current response's `whenEnded`, once.
    func endResponse() {
        guard let ended = responseEnded else { return }
        responseEnded = nil
        ended()
    }

    /// No request is being answered: waiting for one, or for the rest of its head. A draining
    /// server closes such connections at once (a stalled partial head must not hold it up).
    var hasNoRequestInFlight: Bool {
        if case .readingHead = phase, request == nil { return true }
        return false
    }
}
