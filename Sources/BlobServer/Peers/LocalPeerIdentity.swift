/// Who "we" are among the peers, so a node never lists itself: our listen address, and the
/// pod IP Kubernetes gives us (`BLOBCACHE_POD_IP`, from the downward API) when we listen on a
/// wildcard address.
struct LocalPeerIdentity: Sendable, Equatable {
    static let podIPVariable = "BLOBCACHE_POD_IP"

    let listen: SocketAddress
    let podIP: SocketAddress.Host?

    init(listen: SocketAddress, podIP: SocketAddress.Host?) {
        self.listen = listen
        self.podIP = podIP
    }

    /// Reads `BLOBCACHE_POD_IP` from `environment`; an unparsable value is ignored.
    init(listen: SocketAddress, environment: [String: String]) {
        let podIP = environment[Self.podIPVariable].flatMap { text -> SocketAddress.Host? in
            let candidate = text.contains(":") ? "[\(text)]:0" : "\(text):0"
            return (try? SocketAddress(parsing: candidate))?.host
        }
        self.init(listen: listen, podIP: podIP)
    }

    /// True for our listen address, and for any port on the pod IP: the pod's address is ours
    /// alone, whatever port the peers setting names.
    func isSelf(_ member: SocketAddress) -> Bool {
        member == listen || member.host == podIP
    }
}
