/// A cluster member that rendezvous hashing can rank. Its identity is bytes that are the same
/// in every process on every machine, so every peer ranks the members alike.
public protocol RendezvousNode: Equatable, Sendable {
    /// The node's identity. Members with equal bytes are one member.
    var rendezvousBytes: [UInt8] { get }
}

extension SocketAddress: RendezvousNode {
    /// A family tag, the address in network byte order, then the port, big-endian. The host
    /// words hold the address bytes in memory order, so the bytes do not depend on endianness.
    public var rendezvousBytes: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(19)
        switch host {
        case .v4(let address):
            bytes.append(4)
            withUnsafeBytes(of: address) { bytes.append(contentsOf: $0) }
        case .v6(let high, let low):
            bytes.append(6)
            withUnsafeBytes(of: high) { bytes.append(contentsOf: $0) }
            withUnsafeBytes(of: low) { bytes.append(contentsOf: $0) }
        }
        bytes.append(UInt8(port >> 8))
        bytes.append(UInt8(port & 0xff))
        return bytes
    }
}
