/// One address from an A or AAAA record, with the TTL it was given.
struct DNSAddressRecord: Sendable, Equatable {
    let host: SocketAddress.Host
    let ttlSeconds: UInt32
}

/// What a nameserver said about a name. NXDOMAIN is a result, not an error: the name is
/// known not to exist, which is different from not knowing.
enum DNSLookupResult: Sendable, Equatable {
    /// The name exists; its addresses of the asked type(s), possibly none (NODATA).
    case addresses([DNSAddressRecord])
    /// NXDOMAIN.
    case nameDoesNotExist
}
