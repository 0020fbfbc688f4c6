import Glibc
import Testing
import TestSupport
@testable import BlobServer

private func addresses(_ texts: String...) -> [SocketAddress] { texts.map { try! SocketAddress(parsing: $0) } }

private var fastTiming: PeerMembership.Timing {
    var timing = PeerMembership.Timing()
    timing.refreshInterval = 0.1
    timing.queryTimeoutMilliseconds = 200
    return timing
}

/// Waits up to 10 s for `condition`, checking every 20 ms.
private func eventually(_ condition: () -> Bool) -> Bool {
    let deadline = monotonicSeconds() + 10
    while monotonicSeconds() < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}

@Suite(.serialized) struct PeerMembershipDNSTests {
    @Test func picksUpPeersFromDNSThenANewNodeThenKeepsThemWhenDNSIsDown() throws {
        let server = try DNSTestServer(hosts: "127.0.0.2 peers.test\n127.0.0.3 peers.test\n127.0.0.9 peers.test\nfd00::2 peers.test\n")
        // We are 127.0.0.9 by pod IP: never our own peer.
        let identity = LocalPeerIdentity(listen: try SocketAddress(parsing: "0.0.0.0:5000"), environment: ["BLOBCACHE_POD_IP": "127.0.0.9"])
        let membership = try PeerMembership(
            source: try PeerSource(parsing: "peers.test:6000", defaultPort: 5000), nameserver: server.address,
            identity: identity, timing: fastTiming, logger: Logger(level: .error))
        defer { membership.stop() }

        let first = addresses("127.0.0.2:6000", "127.0.0.3:6000", "[fd00::2]:6000")
        #expect(eventually { membership.members == first })
        #expect(membership.version == 1)

        try server.replaceHosts("127.0.0.2 peers.test\n127.0.0.3 peers.test\n127.0.0.4 peers.test\n127.0.0.9 peers.test\nfd00::2 peers.test\n")
        let second = addresses("127.0.0.2:6000", "127.0.0.3:6000", "127.0.0.4:6000", "[fd00::2]:6000")
        #expect(eventually { membership.members == second })
        #expect(membership.version == 2)

        server.stop()
        let failuresBefore = membership.metrics.lookupFailures
        #expect(eventually { membership.metrics.lookupFailures >= failuresBefore + 2 })
        #expect(membership.members == second)
        let metrics = membership.metrics
        #expect(metrics.memberCount == 4)
        #expect(metrics.queryLatency.counts.reduce(0, +) >= 4)
    }

    @Test func aNameThatStopsExistingEmptiesTheMembershipOnlyOnTheSecondLookup() throws {
        let server = try DNSTestServer(hosts: "127.0.0.2 peers.test\n")
        let identity = LocalPeerIdentity(listen: try SocketAddress(parsing: "127.0.0.1:5000"), environment: [:])
        let membership = try PeerMembership(
            source: .dnsName(try DNSName(parsing: "peers.test"), port: 5000), nameserver: server.address,
            identity: identity, timing: fastTiming, logger: Logger(level: .error))
        defer { membership.stop() }
        #expect(eventually { membership.members == addresses("127.0.0.2:5000") })
        try server.replaceHosts("127.0.0.2 other.test\n")
        #expect(eventually { membership.members.isEmpty })
        #expect(membership.version == 2)
        #expect(membership.metrics.lookupFailures == 0)
    }

    @Test func startupDoesNotWaitForDNSAndStopCutsAQueryShort() throws {
        // A nameserver that never answers, with a long timeout: construction and stop() must
        // both return without waiting for it.
        let port = try DNSTestServer.freeUDPPort()
        var timing = PeerMembership.Timing()
        timing.queryTimeoutMilliseconds = 60_000
        let membership = try PeerMembership(
            source: .dnsName(try DNSName(parsing: "peers.test"), port: 5000), nameserver: try SocketAddress(parsing: "127.0.0.1:\(port)"),
            identity: LocalPeerIdentity(listen: try SocketAddress(parsing: "127.0.0.1:5000"), environment: [:]),
            timing: timing, logger: Logger(level: .error))
        #expect(membership.members.isEmpty)
        #expect(membership.version == 0)
        membership.stop()
        membership.stop()
    }
}
