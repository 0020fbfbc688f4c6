import Glibc

extension SocketAddress {
    /// `host` on `port`: a peer's address from a DNS record and the peers setting's port.
    init(peerHost host: Host, port: UInt16) {
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { raw in
            switch host {
            case .v4(let address):
                var inet = sockaddr_in()
                inet.sin_family = sa_family_t(AF_INET)
                inet.sin_port = port.bigEndian
                inet.sin_addr.s_addr = address
                raw.storeBytes(of: inet, as: sockaddr_in.self)
            case .v6(let high, let low):
                var inet6 = sockaddr_in6()
                inet6.sin6_family = sa_family_t(AF_INET6)
                inet6.sin6_port = port.bigEndian
                withUnsafeMutableBytes(of: &inet6.sin6_addr) {
                    $0.storeBytes(of: high, as: UInt64.self)
                    $0.storeBytes(of: low, toByteOffset: 8, as: UInt64.self)
                }
                raw.storeBytes(of: inet6, as: sockaddr_in6.self)
            }
        }
        self.init(storage: storage)
    }
}
