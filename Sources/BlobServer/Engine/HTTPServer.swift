import BlobStore
import Glibc
import Synchronization

/// The HTTP/1.1 server: `loops` event loops, each on its own thread with its own SO_REUSEPORT
/// listener on `address`, and a pool of workers for blocking file work.
///
/// Lifecycle: `init` binds (so the port is known and errors surface before anything runs),
/// `start` starts the threads, `stop` drains and joins them. The store stays open: closing it
/// is the owner's job, after `stop` returns. Thread-safe.
public final class HTTPServer: Sendable {
    /// The bound address, with the real port when port 0 was asked for.
    public let address: SocketAddress
    public let metrics: ServerMetrics
    private let loops: [EventLoop]
    private let workers: WorkerPool
    private let threads = Mutex<[SystemThread]>([])

    public init(
        address: SocketAddress, store: BlobStore, handler: any RequestHandling, metrics: ServerMetrics,
        limits: ServerLimits, loops loopCount: Int, logger: Logger
    ) throws(SystemError) {
        Self.raiseDescriptorLimit()
        // A client that hangs up mid-response must cost an EPIPE, not the process.
        signal(SIGPIPE, SIG_IGN)
        let count = max(1, loopCount)
        precondition(metrics.shards.count >= count, "one metrics shard per loop")
        self.metrics = metrics
        workers = WorkerPool(workers: limits.workers)
        let services = ServerServices(
            store: store, handler: handler, workers: workers, metrics: metrics, logger: logger,
            listenerIsLoopback: address.isLoopback)
        var loops: [EventLoop] = []
        do {
            // The first loop binds the asked-for port; the others join its actual port.
            let first = try EventLoop(index: 0, address: address, reusePort: true, services: services, limits: limits)
            loops.append(first)
            for index in 1..<count {
                loops.append(try EventLoop(index: index, address: first.address, reusePort: true, services: services, limits: limits))
            }
        } catch {
            workers.stop()
            throw error
        }
        self.loops = loops
        self.address = loops[0].address
    }

    /// The number of loops for this machine: one per online CPU.
    public static var defaultLoopCount: Int {
        max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    }

    /// Starts the loops' threads.
    public func start() {
        let started = loops.map { loop in SystemThread(name: "blobcache-loop\(loop.index)") { loop.run() } }
        threads.withLock { $0 += started }
    }

    /// Stops accepting, lets in-flight responses finish for up to `drainSeconds` (idle
    /// connections close at once), then joins the loops and the workers.
    public func stop(drainSeconds: Double = 10) {
        for loop in loops { loop.requestStop(drainSeconds: drainSeconds) }
        let running = threads.withLock { threads in
            defer { threads = [] }
            return threads
        }
        for thread in running { thread.join() }
        workers.stop()
    }

    /// Connections cost descriptors: lift the soft limit to the hard one.
    private static func raiseDescriptorLimit() {
        var limit = rlimit()
        guard getrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        setrlimit(RLIMIT_NOFILE_VALUE, &limit)
    }
}

private let RLIMIT_NOFILE_VALUE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
