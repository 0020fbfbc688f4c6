/// Building a node's `PeerRouter` from `blobcache serve`'s settings.
extension PeerRouter {
    /// The router for `configuration.peers`, its membership already looking up in the
    /// background; nil without peers. Errors name the setting: peers without an upstream, an
    /// unparsable peers value, an unreadable or unusable secret file.
    public static func make(
        configuration: ServerConfiguration, environment: [String: String], logger: Logger,
        readFile: (String) throws(ConfigurationValueError) -> [UInt8] = ConfigurationLoader.readWholeFile
    ) throws(ConfigurationError) -> PeerRouter? {
        guard let peersText = configuration.peers else { return nil }
        guard !configuration.upstreams.isEmpty else {
            throw ConfigurationError(key: "peers", value: peersText, reason: "peers share what the mirror fetches: set an upstream too")
        }
        let source: PeerSource
        do { source = try PeerSource(parsing: peersText, defaultPort: configuration.listen.port) } catch {
            throw ConfigurationError(key: "peers", value: peersText, reason: error.reason)
        }
        let secret = try configuration.peerSecretFile.map { path throws(ConfigurationError) in try readSecret(path, readFile) }
        let identity = LocalPeerIdentity(listen: configuration.listen, environment: environment)
        let selfAddress = address(of: identity, source: source)
        if selfAddress == nil {
            logger.warn("cannot tell our own address among the peers: listening on a wildcard address without \(LocalPeerIdentity.podIPVariable); this node never owns a blob", [:])
        }
        var timing = PeerMembership.Timing()
        timing.refreshInterval = Double(configuration.peerRefreshSeconds)
        let membership: PeerMembership
        do {
            membership = try PeerMembership(source: source, nameserver: configuration.dnsServer, identity: identity, timing: timing, logger: logger)
        } catch {
            throw ConfigurationError(key: "peers", value: peersText, reason: "cannot start the lookups: \(error)")
        }
        return PeerRouter(membership: membership, selfAddress: selfAddress, fanout: configuration.peerFanout, secret: secret, logger: logger)
    }

    /// Our address as the other members list it: the pod IP, else a specific listen address;
    /// on the port DNS records are paired with (a static list names ports itself).
    static func address(of identity: LocalPeerIdentity, source: PeerSource) -> SocketAddress? {
        let host: SocketAddress.Host
        if let podIP = identity.podIP {
            host = podIP
        } else if !identity.listen.host.isWildcard {
            host = identity.listen.host
        } else {
            return nil
        }
        switch source {
        case .dnsName(_, let port): return SocketAddress(host: host, port: port)
        case .staticList: return SocketAddress(host: host, port: identity.listen.port)
        }
    }

    /// The secret: the file's first line, which must be a token (it travels in a header field).
    private static func readSecret(
        _ path: String, _ readFile: (String) throws(ConfigurationValueError) -> [UInt8]
    ) throws(ConfigurationError) -> String {
        let bytes: [UInt8]
        do { bytes = try readFile(path) } catch { throw ConfigurationError(key: "peer_secret_file", value: path, reason: error.reason) }
        let line = bytes.prefix { $0 != UInt8(ascii: "\n") && $0 != UInt8(ascii: "\r") }
        guard line.count >= 16, line.allSatisfy(HTTPParseSyntax.isTokenChar) else {
            throw ConfigurationError(
                key: "peer_secret_file", value: path,
                reason: "the secret must be at least 16 characters of letters, digits and !#$%&'*+-.^_`|~ on the first line")
        }
        return String(decoding: line, as: UTF8.self)
    }
}
