/// A request as handlers see it: the parsed head and facts about the connection.
public struct RequestContext: Sendable {
    public var head: HTTPRequestHead
    /// Whether the listener is on a loopback address (writes are open there by default).
    public var listenerIsLoopback: Bool
    /// Monotonic seconds, for upload-session expiry.
    public var now: UInt64

    public init(head: HTTPRequestHead, listenerIsLoopback: Bool, now: UInt64) {
        self.head = head
        self.listenerIsLoopback = listenerIsLoopback
        self.now = now
    }
}
