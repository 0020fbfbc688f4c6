/// Where a connection goes: scheme, host and port. Keep-alive connections are pooled per
/// origin; credentials are kept for the upstream's host and port.
struct UpstreamOrigin: Hashable, Sendable, CustomStringConvertible {
    let scheme: UpstreamURL.Scheme
    /// Lowercased; an IPv6 literal without brackets.
    let host: String
    let port: UInt16

    /// `host:port`, IPv6 in brackets: the CONNECT target and the Host field's base.
    var authority: String { "\(UpstreamURL.bracketed(host)):\(port)" }

    /// Whether `other` has the same host and port, the test for sending credentials: a scheme
    /// change on the same host and port is the same server.
    func sameHostAndPort(as other: UpstreamOrigin) -> Bool { host == other.host && port == other.port }

    var description: String { "\(scheme.rawValue)://\(authority)" }
}
