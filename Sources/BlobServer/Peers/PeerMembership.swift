import BlobStore
import Glibc
import Synchronization

/// The current set of peers, kept fresh in the background.
///
/// For a DNS source, a `SystemThread` looks up A and AAAA records every `refreshInterval`
/// seconds (± `jitter`, so a fleet started together does not query in step) and applies them
/// by the rules of `PeerMembershipState`. Construction never waits for DNS: `members` is
/// empty until the first good lookup. A static source is applied at once and never touches DNS.
///
/// Thread-safe: members, version and counters sit behind a `Mutex`; reading them never blocks
/// on DNS. Call `stop()` before dropping it: it ends and joins the thread promptly, even in the
/// middle of a query.
final class PeerMembership: Sendable {
    struct Timing: Sendable {
        /// Seconds between lookups, before jitter.
        var refreshInterval: Double = 10
        /// Fraction of the interval added or taken at random each round.
        var jitter: Double = 0.2
        var queryTimeoutMilliseconds: Int32 = 1000
        var queryAttempts = 2

        init() {}
    }

    let source: PeerSource
    let identity: LocalPeerIdentity
    private let configuredNameserver: SocketAddress?
    private let timing: Timing
    private let logger: Logger
    private let state: Mutex<(membership: PeerMembershipState, lookupFailures: UInt64)>
    private let queryLatency = LatencyHistogram()
    /// Signalled by `stop()`; it cuts short both the sleep between rounds and a query.
    private let stopSignal: Wakeup
    private let stopped = Atomic<Bool>(false)
    private let thread = Mutex<SystemThread?>(nil)

    /// Starts keeping the membership of `source`. `nameserver` nil: the first nameserver in
    /// /etc/resolv.conf, read before every lookup so an edited file is picked up.
    init(source: PeerSource, nameserver: SocketAddress?, identity: LocalPeerIdentity, timing: Timing = Timing(), logger: Logger) throws(SystemError) {
        self.source = source
        self.identity = identity
        configuredNameserver = nameserver
        self.timing = timing
        self.logger = logger
        stopSignal = try Wakeup()
        var initial = PeerMembershipState()
        if case .staticList(let addresses) = source {
            _ = initial.apply(resolved: addresses, excluding: identity)
        }
        state = Mutex((initial, 0))
        if case .dnsName(let name, let port) = source {
            thread.withLock { $0 = SystemThread(name: "blobcache-peers") { [self] in refreshLoop(name: name, port: port) } }
        }
    }

    /// The peers, ourselves excluded, in `SocketAddress.peerOrder`.
    var members: [SocketAddress] { state.withLock { $0.membership.members } }

    /// Goes up by one each time `members` changes; 0 until the first non-empty membership.
    var version: UInt64 { state.withLock { $0.membership.version } }

    var metrics: PeerMembershipMetrics {
        let (count, failures) = state.withLock { ($0.membership.members.count, $0.lookupFailures) }
        return PeerMembershipMetrics(queryLatency: queryLatency.snapshot, lookupFailures: failures, memberCount: count)
    }

    /// Ends the background lookups and joins their thread. Idempotent; not from that thread.
    func stop() {
        stopped.store(true, ordering: .releasing)
        stopSignal.signal()
        let running = thread.withLock { thread in
            defer { thread = nil }
            return thread
        }
        running?.join()
    }

    private func refreshLoop(name: DNSName, port: UInt16) {
        while !stopped.load(ordering: .acquiring) {
            refresh(name: name, port: port)
            let factor = 1 + Double.random(in: -timing.jitter...timing.jitter)
            if !sleep(seconds: timing.refreshInterval * factor) { return }
        }
    }

    /// One round: both lookups, then the state update and its log line.
    private func refresh(name: DNSName, port: UInt16) {
        let resolved: [SocketAddress]?
        do {
            resolved = try lookUp(name).map { SocketAddress(host: $0.host, port: port) }
        } catch {
            if error == .cancelled { return }
            resolved = nil
            logger.warn("peer lookup failed; keeping the last membership", ["name": .string("\(name)"), "error": .string("\(error)")])
        }
        let (change, members) = state.withLock { state in
            if resolved == nil { state.lookupFailures += 1 }
            return (state.membership.apply(resolved: resolved, excluding: identity), state.membership.members)
        }
        switch change {
        case .replaced:
            logger.info("peers changed", ["name": .string("\(name)"), "count": .int(Int64(members.count)), "members": .string(members.map(\.description).joined(separator: ","))])
        case .emptyAnswerDeferred:
            logger.warn("peer lookup found no peers; keeping the membership until the next lookup agrees", ["name": .string("\(name)")])
        case .unchanged, .keptAfterFailure:
            break
        }
    }

    /// A and AAAA records of `name`; NXDOMAIN counts as no records.
    private func lookUp(_ name: DNSName) throws(DNSError) -> [DNSAddressRecord] {
        let nameserver: SocketAddress
        if let configuredNameserver {
            nameserver = configuredNameserver
        } else {
            let found: SocketAddress?
            do {
                found = try ResolvConf.readFirstNameserver()
            } catch {
                throw .system(error)
            }
            guard let found else { throw .noNameserver }
            nameserver = found
        }
        let client = DNSClient(nameserver: nameserver, timeoutMilliseconds: timing.queryTimeoutMilliseconds, attempts: timing.queryAttempts)
        var records: [DNSAddressRecord] = []
        for type in [DNSRecordType.a, .aaaa] {
            let start = Self.monotonicNanoseconds()
            defer { queryLatency.observe(nanoseconds: Self.monotonicNanoseconds() - start) }
            if case .addresses(let found) = try client.lookup(name, type: type, interruptDescriptor: stopSignal.descriptor.rawValue) {
                records += found
            }
        }
        return records
    }

    /// Waits `seconds` or until `stop()`. Returns false once stopped.
    private func sleep(seconds: Double) -> Bool {
        var request = pollfd(fd: stopSignal.descriptor.rawValue, events: Int16(POLLIN), revents: 0)
        let deadline = Self.monotonicNanoseconds() + UInt64(max(0, seconds) * 1e9)
        while !stopped.load(ordering: .acquiring) {
            let now = Self.monotonicNanoseconds()
            guard now < deadline else { return true }
            // Rounded up, so the last poll does not spin on a sub-millisecond remainder.
            _ = poll(&request, 1, Int32((deadline - now + 999_999) / 1_000_000))
        }
        return false
    }

    private static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}
