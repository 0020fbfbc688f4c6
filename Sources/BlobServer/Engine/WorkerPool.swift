import BlobStore
import CBlobSys
import Synchronization

/// Threads for work that may block on the disk (opening cold files, reading pages that are not
/// cached, writing and fsyncing uploads, unlinking) or on an upstream (fills, manifest
/// fetches), so that an event loop never waits for it.
///
/// Jobs run in submission order, on whichever worker is free; each worker owns a scratch
/// buffer the job may use until it returns. Thread-safe. `stop` lets queued jobs finish first.
final class WorkerPool: Sendable {
    /// What a job gets from the worker running it.
    struct Context {
        /// `scratchBytes` of memory owned by the worker, free for the job's duration.
        let scratch: UnsafeMutableRawBufferPointer
    }

    typealias Job = @Sendable (Context) -> Void

    static let defaultScratchBytes = 256 << 10

    private let scratchBytes: Int

    private let queue = Mutex<(jobs: [Job], head: Int, stopping: Bool)>(([], 0, false))
    // The semaphore counts queued jobs (plus one per worker at stop): a worker sleeps on it.
    private nonisolated(unsafe) let semaphore: UnsafeMutableRawPointer
    private let threads = Mutex<[SystemThread]>([])

    /// Starts `workers` threads named `<name><index>`, each with `scratchBytes` of scratch
    /// (allocated when the thread starts; pages cost memory once a job touches them).
    init(workers: Int, name: String = "blobcache-work", scratchBytes: Int = WorkerPool.defaultScratchBytes) {
        semaphore = cbs_semaphore_create()
        self.scratchBytes = scratchBytes
        let started = (0..<max(1, workers)).map { index in
            SystemThread(name: "\(name)\(index)") { [self] in run() }
        }
        threads.withLock { $0 = started }
    }

    deinit { cbs_semaphore_destroy(semaphore) }

    /// Queues `job`. After `stop`, jobs are dropped.
    func submit(_ job: @escaping Job) {
        let accepted = queue.withLock { queue in
            guard !queue.stopping else { return false }
            queue.jobs.append(job)
            return true
        }
        if accepted { cbs_semaphore_post(semaphore) }
    }

    /// Runs what is queued, then ends the workers and waits for them.
    func stop() {
        let workers = threads.withLock { threads in
            defer { threads = [] }
            return threads
        }
        queue.withLock { $0.stopping = true }
        for _ in workers { cbs_semaphore_post(semaphore) }
        for worker in workers { worker.join() }
    }

    private func run() {
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: scratchBytes, alignment: 4096)
        defer { scratch.deallocate() }
        let context = Context(scratch: scratch)
        while true {
            cbs_semaphore_wait(semaphore)
            let job: Job? = queue.withLock { queue in
                guard queue.head < queue.jobs.count else { return nil }
                let job = queue.jobs[queue.head]
                queue.head += 1
                if queue.head == queue.jobs.count {
                    queue.jobs.removeAll(keepingCapacity: true)
                    queue.head = 0
                } else if queue.head >= 1024, queue.head * 2 >= queue.jobs.count {
                    queue.jobs.removeFirst(queue.head)
                    queue.head = 0
                }
                return job
            }
            // No job with a post means the pool is stopping (queued jobs come first: FIFO).
            guard let job else { return }
            job(context)
        }
    }
}
