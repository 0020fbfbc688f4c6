import CBlobSys
import Glibc

/// Waiting for a non-blocking socket with `poll`, the one place the upstream client blocks.
enum SocketPoll {
    enum Readiness {
        case readable, writable
    }

    /// Returns once `descriptor` is ready for `readiness`, or has an error or hang-up pending
    /// (the next read or write reports it). Throws `.timedOut` naming `operation` when
    /// `deadline` passes first. The corresponding C function is `poll`.
    static func wait(
        _ descriptor: Int32, for readiness: Readiness, until deadline: IODeadline, operation: @autoclosure () -> String
    ) throws(UpstreamConnectionFailure) {
        let events = Int16(readiness == .readable ? POLLIN : POLLOUT)
        while true {
            var request = pollfd(fd: descriptor, events: events, revents: 0)
            let timeout = deadline.pollMilliseconds
            let ready = poll(&request, 1, timeout)
            if ready > 0 { return }
            if ready == 0 {
                if timeout == 0 || deadline.hasPassed { throw UpstreamConnectionFailure(.timedOut, "\(operation()) timed out") }
                continue
            }
            let code = cbs_errno()
            if code == EINTR { continue }
            throw UpstreamConnectionFailure(.closed, "poll during \(operation()): \(String(cString: strerror(code)))")
        }
    }

    /// Whether the peer has closed an idle connection, or sent bytes nobody asked for: either
    /// way it must not carry another request. Does not block.
    static func hasPendingInputOrHangUp(_ descriptor: Int32) -> Bool {
        var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        return poll(&request, 1, 0) != 0
    }
}
