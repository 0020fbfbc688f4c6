import BlobStore
import CBlobSys
import Glibc

/// An eventfd that other threads write to wake an event loop out of `epoll_wait` (work was
/// handed to it, or it must stop). Writing is thread-safe; reading belongs to the loop.
final class Wakeup: Sendable {
    let descriptor: FileDescriptor

    init() throws(SystemError) {
        descriptor = FileDescriptor(owning: try syscall("eventfd") { eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC)) })
    }

    /// Wakes the loop. Cheap and safe from any thread; wakes coalesce.
    func signal() {
        var one: UInt64 = 1
        _ = write(descriptor.rawValue, &one, 8)
    }

    /// Clears pending wakes (on the loop thread, after the eventfd polled readable).
    func drain() {
        var count: UInt64 = 0
        _ = read(descriptor.rawValue, &count, 8)
    }
}
