/// What a handler wants the connection to do next with a request.
public enum HandlerAction: Sendable {
    /// Answer now. A request body that was not asked for is discarded (small) or the
    /// connection closes after the answer (large).
    case respond(Response)
    /// Run `work` on a worker thread (it may block on the disk: open, read, fsync, unlink,
    /// readdir), then act on what it returns. The loop goes on serving other connections.
    case blocking(@Sendable () -> HandlerAction)
    /// Stream the request body into `sink` (on worker threads, in order, one call at a time),
    /// sending `100 Continue` first if the client asked for it; then answer `sink.finish()`.
    case receiveBody(any RequestBodySink)
    /// Start something that finishes elsewhere (an upstream fetch on its own threads): `start`
    /// runs on the loop and must return at once; whoever finishes calls the completion, from
    /// any thread, exactly once, with the next action. The connection waits meanwhile.
    case awaiting(@Sendable (ActionCompletion) -> Void)
}

/// Hands a `HandlerAction.awaiting` request its next action. Any thread; call it once. A
/// completion for a connection that has closed meanwhile is dropped.
public struct ActionCompletion: Sendable {
    private let deliver: @Sendable (HandlerAction) -> Void

    init(_ deliver: @escaping @Sendable (HandlerAction) -> Void) {
        self.deliver = deliver
    }

    public func callAsFunction(_ action: HandlerAction) {
        deliver(action)
    }
}

/// Where a request body goes, chunk by chunk, as it arrives. The connection owns the sink until
/// it calls exactly one of `finish` or `abandon`.
///
/// Threading: every call is made on a worker thread, one at a time, in order (the connection
/// hands the sink from call to call; calls may come from different workers).
public protocol RequestBodySink: AnyObject, Sendable {
    /// Takes the next bytes of the body (decoded: chunk framing removed). Returns nil to go on,
    /// or the answer to give now, which ends the request (the sink is then finished: the
    /// connection calls neither `finish` nor `abandon`, and closes after answering).
    func write(_ bytes: UnsafeRawBufferPointer) -> Response?
    /// The whole body arrived: commit and answer.
    func finish() -> Response
    /// The body will not complete (the client went away, timed out, or sent a malformed
    /// chunk): release everything and store nothing.
    func abandon()
}
