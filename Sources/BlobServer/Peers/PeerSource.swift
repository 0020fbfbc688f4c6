/// Where the peers come from, parsed from the `peers` setting: a DNS name whose A/AAAA
/// records are the peers (a Kubernetes headless Service), or a fixed list of addresses.
enum PeerSource: Sendable, Equatable {
    /// `DNSNAME[:PORT]`; the port defaults to our own listen port.
    case dnsName(DNSName, port: UInt16)
    /// Comma-separated `HOST:PORT` or bare IP literals (default port); never touches DNS.
    case staticList([SocketAddress])

    /// Parses the `peers` setting. One IP literal (with or without a port) is a static list of
    /// one; anything else without a comma is a DNS name. Static entries must be IP literals.
    init(parsing text: String, defaultPort: UInt16) throws(ConfigurationValueError) {
        let entries = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingASCIISpaces() }
        if entries.count == 1, let address = Self.ipAddress(entries[0], defaultPort: defaultPort) {
            self = .staticList([address])
            return
        }
        if entries.count > 1 {
            var addresses: [SocketAddress] = []
            for entry in entries {
                guard let address = Self.ipAddress(entry, defaultPort: defaultPort) else {
                    throw ConfigurationValueError("'\(entry)' is not an IP address or IP:PORT (a list of peers takes no host names)")
                }
                addresses.append(address)
            }
            self = .staticList(addresses)
            return
        }
        var name = entries[0]
        var port = defaultPort
        if let colon = name.lastIndex(of: ":") {
            let portText = name[name.index(after: colon)...]
            guard let parsed = UInt16(portText), !portText.hasPrefix("+"), parsed != 0 else {
                throw ConfigurationValueError("port must be 1-65535")
            }
            port = parsed
            name = name[..<colon]
        }
        do {
            self = .dnsName(try DNSName(parsing: String(name)), port: port)
        } catch {
            throw ConfigurationValueError("'\(name)' is neither a DNS name nor an IP address")
        }
    }

    /// `IP:PORT`, `[IPv6]:PORT`, or a bare IPv4/IPv6 literal on `defaultPort`.
    private static func ipAddress(_ text: Substring, defaultPort: UInt16) -> SocketAddress? {
        if let address = try? SocketAddress(parsing: String(text)) { return address }
        let bare = text.hasPrefix("[") && text.hasSuffix("]") ? text.dropFirst().dropLast() : text
        let candidate = bare.contains(":") ? "[\(bare)]:\(defaultPort)" : "\(bare):\(defaultPort)"
        return try? SocketAddress(parsing: candidate)
    }
}

extension Substring {
    fileprivate func trimmingASCIISpaces() -> Substring {
        var text = self
        while text.first == " " || text.first == "\t" { text = text.dropFirst() }
        while text.last == " " || text.last == "\t" { text = text.dropLast() }
        return text
    }
}
