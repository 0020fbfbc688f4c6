import BlobStore
import CBlobSys
import Glibc

/// Opens TCP connections by name: getaddrinfo, then a non-blocking connect to each address in
/// turn until one answers.
enum TCPConnector {
    /// A connected, non-blocking, close-on-exec socket to `host:port` with TCP_NODELAY set (a
    /// request head goes out in one segment without waiting for an ACK). Each address gets an
    /// equal share of the time left, so one black-holed address (an IPv6 route that drops
    /// packets) does not use up the whole `deadline`. The caller owns the descriptor.
    ///
    /// getaddrinfo itself cannot be bounded: it blocks the calling fill thread for as long as
    /// the resolver takes. With `sourceHost`, sockets are bound to it first, and addresses of
    /// the other family are skipped.
    static func connect(
        host: String, port: UInt16, sourceHost: SocketAddress.Host? = nil, deadline: IODeadline
    ) throws(UpstreamConnectionFailure) -> FileDescriptor {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw UpstreamConnectionFailure(.connectFailed, "cannot resolve \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var addresses: [UnsafeMutablePointer<addrinfo>] = []
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            if let sourceHost, current.pointee.ai_family != sourceHost.family {
                entry = current.pointee.ai_next
                continue
            }
            addresses.append(current)
            entry = current.pointee.ai_next
        }
        guard !addresses.isEmpty else {
            throw UpstreamConnectionFailure(.connectFailed, "\(host) has no address of the source address's family")
        }
        var failures: [String] = []
        var allTimedOut = true
        for (index, address) in addresses.enumerated() {
            let share = deadline.secondsLeft / Double(addresses.count - index)
            let attemptDeadline = IODeadline.after(seconds: share).capped(at: deadline)
            do {
                return try connect(to: address.pointee, from: sourceHost, deadline: attemptDeadline, port: port)
            } catch {
                if error.kind != .timedOut { allTimedOut = false }
                failures.append(error.message)
            }
        }
        let summary = "connect to \(host):\(port) failed: " + failures.joined(separator: "; ")
        throw UpstreamConnectionFailure(allTimedOut ? .timedOut : .connectFailed, summary)
    }

    private static func connect(
        to address: addrinfo, from sourceHost: SocketAddress.Host?, deadline: IODeadline, port: UInt16
    ) throws(UpstreamConnectionFailure) -> FileDescriptor {
        let text = describe(address, port: port)
        let raw = socket(address.ai_family, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard raw >= 0 else { throw failure("socket", text, cbs_errno()) }
        let descriptor = FileDescriptor(owning: raw)
        var one: Int32 = 1
        setsockopt(raw, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        if let sourceHost {
            let bound = SocketAddress(host: sourceHost, port: 0).withSockaddr { bind(raw, $0, $1) }
            guard bound == 0 else { throw failure("bind \(SocketAddress(host: sourceHost, port: 0))", text, cbs_errno()) }
        }
        if Glibc.connect(raw, address.ai_addr, address.ai_addrlen) == 0 { return descriptor }
        let code = cbs_errno()
        guard code == EINPROGRESS || code == EINTR else { throw failure("connect", text, code) }
        try SocketPoll.wait(raw, for: .writable, until: deadline, operation: "connect to \(text)")
        var pending: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(raw, SOL_SOCKET, SO_ERROR, &pending, &length) == 0 else { throw failure("getsockopt", text, cbs_errno()) }
        guard pending == 0 else { throw failure("connect", text, pending) }
        return descriptor
    }

    private static func decodeCString(_ text: [CChar]) -> String {
        String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func failure(_ call: String, _ address: String, _ code: Int32) -> UpstreamConnectionFailure {
        UpstreamConnectionFailure(.connectFailed, "\(call) \(address): \(String(cString: strerror(code)))")
    }

    /// `address:port` for messages (`[v6]:port` for IPv6).
    private static func describe(_ address: addrinfo, port: UInt16) -> String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        switch address.ai_family {
        case AF_INET6:
            var raw = address.ai_addr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
            inet_ntop(AF_INET6, &raw, &text, socklen_t(text.count))
            return "[\(decodeCString(text))]:\(port)"
        default:
            var raw = address.ai_addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
            inet_ntop(AF_INET, &raw, &text, socklen_t(text.count))
            return "\(decodeCString(text)):\(port)"
        }
    }
}
