import BlobStore
import CBlobSys
import Glibc

/// An epoll instance and a fixed array of ready events: the readiness source of one event loop.
///
/// Owned by its loop's thread. `register`, `modify` and `remove` may also be called from the
/// loop's thread only. Each registration carries a 64-bit token the loop chooses (a connection
/// slot and a generation), handed back with each event, so no lookup is needed per event.
final class Epoll {
    struct Interest: OptionSet {
        let rawValue: UInt32
        static let readable = Interest(rawValue: EPOLLIN.rawValue | EPOLLRDHUP.rawValue)
        static let writable = Interest(rawValue: EPOLLOUT.rawValue)
        /// Report readiness once per change, not while it lasts (edge-triggered).
        static let edgeTriggered = Interest(rawValue: EPOLLET.rawValue)
    }

    /// One ready descriptor.
    struct Event {
        let token: UInt64
        let events: UInt32

        var isReadable: Bool { events & (EPOLLIN.rawValue | EPOLLRDHUP.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 }
        var isWritable: Bool { events & (EPOLLOUT.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 }
        var isHangUp: Bool { events & (EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 }
    }

    private let descriptor: FileDescriptor
    private let ready: UnsafeMutablePointer<epoll_event>
    private let capacity: Int32

    init(maxEventsPerWait: Int32 = 256) throws(SystemError) {
        descriptor = FileDescriptor(owning: try syscall("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) })
        capacity = maxEventsPerWait
        ready = .allocate(capacity: Int(maxEventsPerWait))
    }

    deinit { ready.deallocate() }

    func register(_ fd: Int32, token: UInt64, interest: Interest) throws(SystemError) {
        try control(EPOLL_CTL_ADD, fd, token: token, interest: interest)
    }

    func modify(_ fd: Int32, token: UInt64, interest: Interest) throws(SystemError) {
        try control(EPOLL_CTL_MOD, fd, token: token, interest: interest)
    }

    /// Stops watching `fd`. Closing a descriptor also does this, unless it was duplicated.
    func remove(_ fd: Int32) {
        _ = epoll_ctl(descriptor.rawValue, EPOLL_CTL_DEL, fd, nil)
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever) and calls `body` for each ready
    /// descriptor. Returns the number of events. EINTR counts as zero events.
    @discardableResult
    func wait(timeoutMilliseconds: Int32, _ body: (Event) -> Void) throws(SystemError) -> Int {
        let count = epoll_wait(descriptor.rawValue, ready, capacity, timeoutMilliseconds)
        if count < 0 {
            let code = cbs_errno()
            if code == EINTR { return 0 }
            throw SystemError(call: "epoll_wait", errno: code)
        }
        for index in 0..<Int(count) {
            body(Event(token: ready[index].data.u64, events: ready[index].events))
        }
        return Int(count)
    }

    private func control(_ operation: Int32, _ fd: Int32, token: UInt64, interest: Interest) throws(SystemError) {
        var event = epoll_event()
        event.events = interest.rawValue
        event.data.u64 = token
        try syscall("epoll_ctl") { epoll_ctl(descriptor.rawValue, operation, fd, &event) }
    }
}
