import BlobStore

/// What every event loop shares: the store, the handler, the worker pool, metrics and the log.
/// Each member is thread-safe.
struct ServerServices: Sendable {
    let store: BlobStore
    let handler: any RequestHandling
    let workers: WorkerPool
    let metrics: ServerMetrics
    let logger: Logger
    let listenerIsLoopback: Bool
}
