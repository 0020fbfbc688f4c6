import Glibc

/// An IPv4 or IPv6 address and port, parsed from `HOST:PORT` (`[v6]:PORT` for IPv6).
/// Host names are not resolved here: listen addresses are literal.
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    public enum Host: Sendable, Hashable {
        case v4(in_addr_t)
        case v6(UInt64, UInt64)
    }

    public let host: Host
    public let port: UInt16

    /// Why `HOST:PORT` text is not an address.
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let text: String
        public let reason: String
        public var description: String { "'\(text)' is not HOST:PORT: \(reason)" }
    }

    public init(parsing text: String) throws(ParseError) {
        let hostPart: Substring
        let portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw ParseError(text: text, reason: "missing ']'") }
            hostPart = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw ParseError(text: text, reason: "missing ':PORT'") }
            portPart = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw ParseError(text: text, reason: "missing ':PORT'") }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
        }
        guard let port = UInt16(portPart), !portPart.hasPrefix("+") else {
            throw ParseError(text: text, reason: "port must be 0-65535")
        }
        self.port = port
        if text.hasPrefix("[") {
            var address = in6_addr()
            guard inet_pton(AF_INET6, String(hostPart), &address) == 1 else {
                throw ParseError(text: text, reason: "'\(hostPart)' is not an IPv6 address")
            }
            let words = withUnsafeBytes(of: address) { ($0.load(as: UInt64.self), $0.load(fromByteOffset: 8, as: UInt64.self)) }
            host = .v6(words.0, words.1)
        } else {
            var address = in_addr()
            guard inet_pton(AF_INET, String(hostPart), &address) == 1 else {
                throw ParseError(text: text, reason: "'\(hostPart)' is not an IPv4 address")
            }
            host = .v4(address.s_addr)
        }
    }

    init(storage: sockaddr_storage) {
        var copy = storage
        switch Int32(storage.ss_family) {
        case AF_INET6:
            let address = withUnsafeBytes(of: &copy) { $0.load(as: sockaddr_in6.self) }
            port = UInt16(bigEndian: address.sin6_port)
            let words = withUnsafeBytes(of: address.sin6_addr) { ($0.load(as: UInt64.self), $0.load(fromByteOffset: 8, as: UInt64.self)) }
            host = .v6(words.0, words.1)
        default:
            let address = withUnsafeBytes(of: &copy) { $0.load(as: sockaddr_in.self) }
            port = UInt16(bigEndian: address.sin_port)
            host = .v4(address.sin_addr.s_addr)
        }
    }

    /// The same host with another port (after binding port 0).
    func with(port: UInt16) -> SocketAddress { SocketAddress(host: host, port: port) }

    /// `host` on `port` (a peer's address from a DNS record and the peers setting's port).
    init(host: Host, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// True for 127.0.0.0/8 and ::1: writes from loopback need no credentials by default.
    public var isLoopback: Bool {
        switch host {
        case .v4(let address): UInt32(bigEndian: address) >> 24 == 127
        case .v6(let high, let low): high == 0 && low == UInt64(1).bigEndian
        }
    }

    /// The address as a `sockaddr` for bind/connect, and its length. Heap-backed: bind and
    /// connect are rare, and it keeps `body`'s typed error intact.
    @discardableResult
    func withSockaddr<R, Failure: Error>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws(Failure) -> R) throws(Failure) -> R {
        let storage = UnsafeMutableRawPointer.allocate(
            byteCount: MemoryLayout<sockaddr_storage>.size, alignment: MemoryLayout<sockaddr_storage>.alignment)
        defer { storage.deallocate() }
        storage.initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<sockaddr_storage>.size)
        let length: Int
        switch host {
        case .v4(let address):
            var raw = sockaddr_in()
            raw.sin_family = sa_family_t(AF_INET)
            raw.sin_port = port.bigEndian
            raw.sin_addr.s_addr = address
            storage.storeBytes(of: raw, as: sockaddr_in.self)
            length = MemoryLayout<sockaddr_in>.size
        case .v6(let high, let low):
            var raw = sockaddr_in6()
            raw.sin6_family = sa_family_t(AF_INET6)
            raw.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &raw.sin6_addr) {
                $0.storeBytes(of: high, as: UInt64.self)
                $0.storeBytes(of: low, toByteOffset: 8, as: UInt64.self)
            }
            storage.storeBytes(of: raw, as: sockaddr_in6.self)
            length = MemoryLayout<sockaddr_in6>.size
        }
        return try body(UnsafePointer(storage.assumingMemoryBound(to: sockaddr.self)), socklen_t(length))
    }

    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        switch host {
        case .v4(let address):
            var raw = in_addr(s_addr: address)
            inet_ntop(AF_INET, &raw, &buffer, socklen_t(buffer.count))
            return "\(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)):\(port)"
        case .v6(let high, let low):
            var raw = in6_addr()
            withUnsafeMutableBytes(of: &raw) {
                $0.storeBytes(of: high, as: UInt64.self)
                $0.storeBytes(of: low, toByteOffset: 8, as: UInt64.self)
            }
            inet_ntop(AF_INET6, &raw, &buffer, socklen_t(buffer.count))
            return "[\(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))]:\(port)"
        }
    }
}

extension SocketAddress.Host {
    /// AF_INET or AF_INET6.
    var family: Int32 {
        switch self {
        case .v4: AF_INET
        case .v6: AF_INET6
        }
    }

    /// 0.0.0.0 or ::, which a listener binds to mean every address.
    var isWildcard: Bool {
        switch self {
        case .v4(let address): address == 0
        case .v6(let high, let low): high == 0 && low == 0
        }
    }
}
