import CBlobSys
import Glibc

/// A plain POSIX thread for long-running blocking work (store maintenance, event loops),
/// which must never run on Swift's cooperative pool.
///
/// Start it from library code, not from a closure in `main.swift`, which would be isolated to
/// the main actor and trap when run here.
public final class SystemThread: Sendable {
    private let handle: pthread_t

    /// Starts `body` on a new thread named `name` (the kernel keeps 15 bytes of it).
    public init(name: String, _ body: @escaping @Sendable () -> Void) {
        final class Box: Sendable {
            let name: String
            let body: @Sendable () -> Void
            init(_ name: String, _ body: @escaping @Sendable () -> Void) {
                self.name = name
                self.body = body
            }
        }
        let box = Unmanaged.passRetained(Box(name, body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { context in
            let box = Unmanaged<Box>.fromOpaque(context!).takeRetainedValue()
            cbs_set_thread_name(box.name)
            box.body()
            return nil
        }, box)
        precondition(result == 0, "pthread_create failed: \(result)")
        handle = thread
    }

    /// Waits for the thread's body to return. Call once, never from the thread itself.
    public func join() {
        pthread_join(handle, nil)
    }

    /// True when called on this thread.
    public var isCurrent: Bool { pthread_equal(pthread_self(), handle) != 0 }
}
