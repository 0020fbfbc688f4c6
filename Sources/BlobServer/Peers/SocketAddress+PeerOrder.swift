extension SocketAddress {
    /// A total order for membership lists, so every node sorts the same members the same way:
    /// IPv4 before IPv6, then by address bytes, then by port.
    static func peerOrder(_ lhs: SocketAddress, _ rhs: SocketAddress) -> Bool {
        let left = lhs.peerSortKey
        let right = rhs.peerSortKey
        if left.family != right.family { return left.family < right.family }
        if left.high != right.high { return left.high < right.high }
        if left.low != right.low { return left.low < right.low }
        return lhs.port < rhs.port
    }

    /// Addresses as big-endian numbers, so integer order is byte order.
    private var peerSortKey: (family: Int, high: UInt64, low: UInt64) {
        switch host {
        case .v4(let address): (4, UInt64(UInt32(bigEndian: address)), 0)
        case .v6(let high, let low): (6, UInt64(bigEndian: high), UInt64(bigEndian: low))
        }
    }
}
