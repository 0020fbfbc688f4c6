import BlobStore
import CBlobSys
import Glibc

/// A minimal DNS stub resolver over UDP: asks one nameserver for A or AAAA records.
///
/// Thread-safe: it holds only settings. Each lookup blocks its calling thread (never a
/// cooperative-pool thread) for up to `timeoutMilliseconds × attempts`, and opens, owns and
/// closes its own socket, so every query leaves from a fresh random source port.
/// Queries offer EDNS0's 4096-byte payload; an answer larger still comes back truncated (TC)
/// and is asked again over TCP (`lookupOverTCP`).
struct DNSClient: Sendable {
    let nameserver: SocketAddress
    /// How long each attempt waits for its answer.
    let timeoutMilliseconds: Int32
    /// Attempts in all: the first try and its retries.
    let attempts: Int

    init(nameserver: SocketAddress, timeoutMilliseconds: Int32 = 1000, attempts: Int = 2) {
        precondition(attempts >= 1 && timeoutMilliseconds >= 1, "a DNS client needs an attempt and a timeout")
        self.nameserver = nameserver
        self.timeoutMilliseconds = timeoutMilliseconds
        self.attempts = attempts
    }

    /// Resolves `name` to its records of `type` (A or AAAA). When `interruptDescriptor`
    /// (borrowed, never closed here) polls readable, the lookup stops with `.cancelled`.
    func lookup(_ name: DNSName, type: DNSRecordType, interruptDescriptor: Int32? = nil) throws(DNSError) -> DNSLookupResult {
        let query = DNSQuery(name: name, type: type)
        let socket = try connectedSocket()
        let request = query.encoded
        var lastError = DNSError.timedOut(nameserver: nameserver, attempts: attempts)
        for _ in 0..<attempts {
            do {
                try send(request, on: socket)
                if let result = try awaitAnswer(to: query, on: socket, interruptDescriptor: interruptDescriptor) {
                    return result
                }
            } catch .system(let error) where error.errno == ECONNREFUSED {
                // ICMP port unreachable from an earlier datagram: nobody listens; try again.
                lastError = .system(error)
            } catch .truncated {
                return try lookupOverTCP(query, interruptDescriptor: interruptDescriptor)
            }
        }
        throw lastError
    }

    /// A non-blocking UDP socket connected to the nameserver, so the kernel drops datagrams
    /// from anyone else and reports ICMP errors as ECONNREFUSED.
    private func connectedSocket() throws(DNSError) -> FileDescriptor {
        let family: Int32 = if case .v6 = nameserver.host { AF_INET6 } else { AF_INET }
        do {
            let raw = try syscall("socket", path: "\(nameserver)") {
                socket(family, Int32(SOCK_DGRAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
            }
            let descriptor = FileDescriptor(owning: raw)
            try nameserver.withSockaddr { pointer, length throws(SystemError) in
                try syscall("connect", path: "\(nameserver)") { connect(raw, pointer, length) }
            }
            return descriptor
        } catch {
            throw .system(error)
        }
    }

    private func send(_ request: [UInt8], on socket: borrowing FileDescriptor) throws(DNSError) {
        let raw = socket.rawValue
        do {
            try syscall("send", path: "\(nameserver)") {
                request.withUnsafeBytes { Glibc.send(raw, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            }
        } catch {
            throw .system(error)
        }
    }

    /// Waits up to the timeout for a datagram that answers `query`. Datagrams with another ID
    /// or question (late answers to an earlier attempt, forgeries) are dropped and the wait
    /// goes on. Returns nil on timeout.
    private func awaitAnswer(to query: DNSQuery, on socket: borrowing FileDescriptor, interruptDescriptor: Int32?) throws(DNSError) -> DNSLookupResult? {
        let deadline = Self.monotonicMilliseconds() + Int64(timeoutMilliseconds)
        var buffer = [UInt8](repeating: 0, count: 65535)
        while true {
            let left = deadline - Self.monotonicMilliseconds()
            guard left > 0 else { return nil }
            var descriptors = [pollfd(fd: socket.rawValue, events: Int16(POLLIN), revents: 0)]
            if let interruptDescriptor { descriptors.append(pollfd(fd: interruptDescriptor, events: Int16(POLLIN), revents: 0)) }
            let ready: Int32
            do {
                ready = try syscall("poll", path: "\(nameserver)") { poll(&descriptors, nfds_t(descriptors.count), Int32(left)) }
            } catch {
                throw .system(error)
            }
            if ready == 0 { continue }
            if descriptors.count > 1, descriptors[1].revents != 0 { throw .cancelled }
            guard descriptors[0].revents != 0 else { continue }
            let raw = socket.rawValue
            let count = buffer.withUnsafeMutableBytes { bytes in recv(raw, bytes.baseAddress, bytes.count, 0) }
            if count < 0 {
                let code = cbs_errno()
                if code == EINTR || code == EAGAIN { continue }
                throw .system(SystemError(call: "recv", path: "\(nameserver)", errno: code))
            }
            do {
                return try DNSResponse.parse(Array(buffer[..<count]), answering: query)
            } catch .mismatchedID, .notAResponse, .questionMismatch {
                continue
            }
        }
    }

    static func monotonicMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }
}
