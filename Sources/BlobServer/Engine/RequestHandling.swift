/// What the engine asks of the application: an action for each request, and a periodic tick.
///
/// `handle` runs on an event loop thread and must not block: anything that waits on the disk
/// belongs in `HandlerAction.blocking` or in a body sink. `tick` runs about once a second on
/// one loop, and must be quick too.
public protocol RequestHandling: Sendable {
    func handle(_ request: RequestContext) -> (RouteLabel, HandlerAction)
    func tick(now: UInt64)
}
