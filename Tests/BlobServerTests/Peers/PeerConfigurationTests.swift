import Testing
@testable import BlobServer

/// The peer settings: parsed from every source, refused with the key and value named, and
/// turned into a router that knows our own address.
@Suite struct PeerConfigurationTests {
    func load(_ arguments: [String], environment: [String: String] = [:], files: [String: String] = [:]) throws -> ServerConfiguration {
        var loader = ConfigurationLoader()
        loader.readFile = { path throws(ConfigurationValueError) in
            guard let text = files[path] else { throw ConfigurationValueError("cannot read: no such file") }
            return Array(text.utf8)
        }
        return try loader.load(arguments: arguments, environment: environment)
    }

    @Test func peerSettingsComeFromFlagsEnvironmentAndFile() throws {
        let file = try load(["--config", "/c.json"], files: ["/c.json": #"{"peers": "blobcache.kube-system.svc:5000", "peer_fanout": 4, "peer_refresh": "30s"}"#])
        #expect(file.peers == "blobcache.kube-system.svc:5000" && file.peerFanout == 4 && file.peerRefreshSeconds == 30)
        let environment = try load([], environment: ["BLOBCACHE_PEER_FANOUT": "16", "BLOBCACHE_PEER_SECRET_FILE": "/run/secret"])
        #expect(environment.peerFanout == 16 && environment.peerSecretFile == "/run/secret")
        let flags = try load(["--peer-refresh", "2s", "--peer-fanout", "1"], environment: ["BLOBCACHE_PEER_FANOUT": "16"])
        #expect(flags.peerRefreshSeconds == 2 && flags.peerFanout == 1)
    }

    @Test(arguments: [
        (["--peer-fanout", "0"], "--peer-fanout", "0"),
        (["--peer-fanout", "many"], "--peer-fanout", "many"),
        (["--peer-fanout", "2000"], "--peer-fanout", "2000"),
        (["--peer-refresh", "0"], "--peer-refresh", "0"),
        (["--peer-refresh", "2h"], "--peer-refresh", "2h"),
        (["--peer-secret-file", ""], "--peer-secret-file", ""),
    ])
    func aBadPeerValueNamesTheFlagAndTheValue(arguments: [String], key: String, value: String) {
        #expect { try load(arguments) } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            return error.key == key && error.value == value
        }
    }

    func router(_ arguments: [String], environment: [String: String] = [:], files: [String: String] = [:]) throws -> PeerRouter? {
        let configuration = try load(arguments, environment: environment)
        return try PeerRouter.make(configuration: configuration, environment: environment, logger: Logger(level: .error)) { path throws(ConfigurationValueError) in
            guard let text = files[path] else { throw ConfigurationValueError("cannot read: no such file") }
            return Array(text.utf8)
        }
    }

    @Test func peersNeedAnUpstreamAndAUsablePeersValue() throws {
        #expect { try router(["--peers", "10.0.0.1:5000"]) } throws: { error in
            (error as? ConfigurationError).map { $0.key == "peers" && $0.reason.contains("upstream") } ?? false
        }
        #expect { try router(["--peers", "10.0.0.1:5000,peers.example", "--upstream", "http://u"]) } throws: { error in
            (error as? ConfigurationError).map { $0.key == "peers" && $0.value == "10.0.0.1:5000,peers.example" } ?? false
        }
        #expect(try router(["--upstream", "http://u"]) == nil)
    }

    @Test func theSecretFileMustHoldALongToken() throws {
        let base = ["--peers", "10.0.0.1:5000", "--upstream", "http://u", "--peer-secret-file", "/s"]
        #expect { try router(base, files: ["/s": "short\n"]) } throws: { error in
            (error as? ConfigurationError).map { $0.key == "peer_secret_file" && $0.value == "/s" } ?? false
        }
        #expect { try router(base, files: ["/s": "has a space in the middle of it\n"]) } throws: { error in
            (error as? ConfigurationError)?.key == "peer_secret_file"
        }
        #expect { try router(base) } throws: { error in
            (error as? ConfigurationError).map { $0.key == "peer_secret_file" && $0.reason.contains("no such file") } ?? false
        }
        let made = try #require(try router(base, files: ["/s": "0123456789abcdef0123\n"]))
        defer { made.stop() }
        #expect(made.mark == "0123456789abcdef0123")
    }

    @Test func ourAddressIsThePodIPOrASpecificListenAddressOnThePeersPort() throws {
        let dns = try PeerSource(parsing: "peers.test:6000", defaultPort: 5000)
        let specific = LocalPeerIdentity(listen: try SocketAddress(parsing: "10.1.2.3:5000"), podIP: nil)
        #expect(PeerRouter.address(of: specific, source: dns) == (try SocketAddress(parsing: "10.1.2.3:6000")))
        let pod = LocalPeerIdentity(listen: try SocketAddress(parsing: "0.0.0.0:5000"), environment: ["BLOBCACHE_POD_IP": "10.9.8.7"])
        #expect(PeerRouter.address(of: pod, source: dns) == (try SocketAddress(parsing: "10.9.8.7:6000")))
        let wildcard = LocalPeerIdentity(listen: try SocketAddress(parsing: "0.0.0.0:5000"), podIP: nil)
        #expect(PeerRouter.address(of: wildcard, source: dns) == nil)
        let fixed = try PeerSource(parsing: "10.1.2.3:5000,10.1.2.4:5000", defaultPort: 5000)
        #expect(PeerRouter.address(of: specific, source: fixed) == (try SocketAddress(parsing: "10.1.2.3:5000")))
    }
}
