import BlobStore

/// What a worker job hands back to the loop that submitted it, with the connection's token.
enum WorkResult: Sendable {
    /// A handler's blocking work finished with this next action.
    case action(HandlerAction)
    /// A blob was opened: the loop owns `descriptor` now.
    case opened(descriptor: Int32, size: UInt64)
    /// The blob is gone (removed or evicted since the handler saw it), or the open failed.
    case openFailed(missing: Bool, reason: String)
    /// Pages of the response's blob ranges were read into the page cache.
    case warmed
    /// A cold `sendfile` moved `sent` bytes, then stopped: the socket was full (`wouldBlock`),
    /// the count was done, or an error ended the connection (`failed`).
    case sentFile(sent: Int, wouldBlock: Bool, failed: Bool)
    /// A body pump stopped.
    case pumped(BodyPump.Outcome)
    /// A growing blob the connection waits on has more bytes, or an outcome.
    case growingBlobChanged
    /// Nothing for the connection (a sink abandoned after the connection closed).
    case none
}
