import Glibc

/// A point on the monotonic clock by which a blocking socket operation must finish: each
/// connect, read and write of the upstream client carries one, so a stalled peer costs at most
/// the configured timeout however the bytes trickle in.
struct IODeadline: Comparable, Sendable {
    /// Nanoseconds on CLOCK_MONOTONIC.
    let nanoseconds: UInt64

    /// `seconds` from now (at least now; at most about 292 years).
    static func after(seconds: Double) -> IODeadline {
        let delta = seconds <= 0 ? 0 : UInt64(min(seconds, 9e9) * 1e9)
        return IODeadline(nanoseconds: monotonicNanoseconds() &+ delta)
    }

    var hasPassed: Bool { monotonicNanoseconds() >= nanoseconds }

    /// Seconds left, 0 when past.
    var secondsLeft: Double {
        let now = monotonicNanoseconds()
        return now >= nanoseconds ? 0 : Double(nanoseconds - now) / 1e9
    }

    /// The timeout for `poll`: milliseconds left, rounded up so a wait never ends just short of
    /// the deadline, 0 when past.
    var pollMilliseconds: Int32 {
        let now = monotonicNanoseconds()
        guard nanoseconds > now else { return 0 }
        return Int32(min((nanoseconds - now + 999_999) / 1_000_000, UInt64(Int32.max)))
    }

    /// The earlier of two deadlines.
    func capped(at other: IODeadline) -> IODeadline { Swift.min(self, other) }

    static func < (lhs: IODeadline, rhs: IODeadline) -> Bool { lhs.nanoseconds < rhs.nanoseconds }
}

/// Nanoseconds on CLOCK_MONOTONIC.
func monotonicNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

/// Sleeps `seconds` on the calling thread (a fill thread, never an event loop).
func sleepBlocking(seconds: Double) {
    guard seconds > 0 else { return }
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
    var remaining = timespec()
    while nanosleep(&request, &remaining) == -1 && errno == EINTR { request = remaining }
}
