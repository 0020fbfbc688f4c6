import Testing
@testable import BlobServer

private func addresses(_ texts: String...) -> [SocketAddress] { texts.map { try! SocketAddress(parsing: $0) } }

private let me = LocalPeerIdentity(listen: try! SocketAddress(parsing: "0.0.0.0:5000"), podIP: try! SocketAddress(parsing: "10.0.0.5:0").host)

@Suite struct PeerMembershipStateTests {
    @Test func membersAreSortedDeduplicatedAndWithoutOurselves() {
        var state = PeerMembershipState()
        let change = state.apply(resolved: addresses("[fd00::1]:5000", "10.0.0.9:5000", "10.0.0.5:5000", "10.0.0.10:5000", "10.0.0.9:5000", "0.0.0.0:5000"), excluding: me)
        #expect(change == .replaced)
        #expect(state.members == addresses("10.0.0.9:5000", "10.0.0.10:5000", "[fd00::1]:5000"))
        #expect(state.version == 1)
    }

    @Test func theSameAnswerAgainChangesNothing() {
        var state = PeerMembershipState()
        _ = state.apply(resolved: addresses("10.0.0.2:5000", "10.0.0.1:5000"), excluding: me)
        #expect(state.apply(resolved: addresses("10.0.0.1:5000", "10.0.0.2:5000"), excluding: me) == .unchanged)
        #expect(state.version == 1)
    }

    @Test func aFailedLookupKeepsTheLastGoodMembership() {
        var state = PeerMembershipState()
        _ = state.apply(resolved: addresses("10.0.0.1:5000"), excluding: me)
        #expect(state.apply(resolved: nil, excluding: me) == .keptAfterFailure)
        #expect(state.members == addresses("10.0.0.1:5000"))
        #expect(state.version == 1)
    }

    @Test func oneEmptyAnswerIsDeferredAndASecondInARowEmptiesTheMembership() {
        var state = PeerMembershipState()
        _ = state.apply(resolved: addresses("10.0.0.1:5000"), excluding: me)
        #expect(state.apply(resolved: [], excluding: me) == .emptyAnswerDeferred)
        #expect(state.members == addresses("10.0.0.1:5000"))
        #expect(state.apply(resolved: [], excluding: me) == .replaced)
        #expect(state.members.isEmpty)
        #expect(state.version == 2)
    }

    @Test func aFlappingEmptyAnswerNeverEmptiesTheMembership() {
        var state = PeerMembershipState()
        _ = state.apply(resolved: addresses("10.0.0.1:5000"), excluding: me)
        for _ in 0..<3 {
            #expect(state.apply(resolved: [], excluding: me) == .emptyAnswerDeferred)
            #expect(state.apply(resolved: addresses("10.0.0.1:5000"), excluding: me) == .unchanged)
        }
        #expect(state.version == 1)
    }

    @Test func aFailureBetweenTwoEmptyAnswersDoesNotResetTheCount() {
        var state = PeerMembershipState()
        _ = state.apply(resolved: addresses("10.0.0.1:5000"), excluding: me)
        _ = state.apply(resolved: [], excluding: me)
        _ = state.apply(resolved: nil, excluding: me)
        #expect(state.apply(resolved: [], excluding: me) == .replaced)
        #expect(state.members.isEmpty)
    }

    @Test func anAnswerOfOnlyOurselvesCountsAsEmpty() {
        var state = PeerMembershipState()
        #expect(state.apply(resolved: addresses("10.0.0.5:5000"), excluding: me) == .unchanged)
        #expect(state.version == 0)
    }
}

@Suite struct PeerMembershipIdentityTests {
    @Test func ourListenAddressIsSelf() throws {
        let identity = LocalPeerIdentity(listen: try SocketAddress(parsing: "10.0.0.5:5000"), environment: [:])
        #expect(identity.isSelf(try SocketAddress(parsing: "10.0.0.5:5000")))
        #expect(!identity.isSelf(try SocketAddress(parsing: "10.0.0.5:5001")))
        #expect(!identity.isSelf(try SocketAddress(parsing: "10.0.0.6:5000")))
    }

    @Test func thePodIPIsSelfOnAnyPort() throws {
        let identity = LocalPeerIdentity(listen: try SocketAddress(parsing: "0.0.0.0:5000"), environment: ["BLOBCACHE_POD_IP": "10.1.2.3"])
        #expect(identity.isSelf(try SocketAddress(parsing: "10.1.2.3:5000")))
        #expect(identity.isSelf(try SocketAddress(parsing: "10.1.2.3:6000")))
        #expect(!identity.isSelf(try SocketAddress(parsing: "10.1.2.4:5000")))
    }

    @Test func anIPv6PodIPIsUnderstoodAndAnUnparsableOneIgnored() throws {
        let v6 = LocalPeerIdentity(listen: try SocketAddress(parsing: "[::]:5000"), environment: ["BLOBCACHE_POD_IP": "fd00::7"])
        #expect(v6.isSelf(try SocketAddress(parsing: "[fd00::7]:5000")))
        let junk = LocalPeerIdentity(listen: try SocketAddress(parsing: "0.0.0.0:5000"), environment: ["BLOBCACHE_POD_IP": "pod"])
        #expect(junk.podIP == nil)
    }
}

@Suite struct PeerMembershipSourceTests {
    @Test func aDNSNameTakesOurPortByDefault() throws {
        #expect(try PeerSource(parsing: "blobcache.cache.svc.cluster.local", defaultPort: 5000) == .dnsName(try DNSName(parsing: "blobcache.cache.svc.cluster.local"), port: 5000))
    }

    @Test func aDNSNameMayNameItsPort() throws {
        #expect(try PeerSource(parsing: "peers.test:7000", defaultPort: 5000) == .dnsName(try DNSName(parsing: "peers.test"), port: 7000))
    }

    @Test func aCommaSeparatedListIsStaticWithBareIPsOnTheDefaultPort() throws {
        let source = try PeerSource(parsing: "10.0.0.1:6000, 10.0.0.2 ,[fd00::1]:6001,fd00::2", defaultPort: 5000)
        #expect(source == .staticList(addresses("10.0.0.1:6000", "10.0.0.2:5000", "[fd00::1]:6001", "[fd00::2]:5000")))
    }

    @Test func oneIPLiteralIsAStaticListOfOne() throws {
        #expect(try PeerSource(parsing: "10.0.0.1", defaultPort: 5000) == .staticList(addresses("10.0.0.1:5000")))
        #expect(try PeerSource(parsing: "10.0.0.1:5001", defaultPort: 5000) == .staticList(addresses("10.0.0.1:5001")))
    }

    @Test(arguments: ["", "peers.test:0", "peers.test:99999", "peers..test", "10.0.0.1,peers.test", "10.0.0.1,"])
    func badSettingsAreRejected(text: String) {
        #expect(throws: ConfigurationValueError.self) { try PeerSource(parsing: text, defaultPort: 5000) }
    }

    @Test func aStaticListIsMembershipAtOnceWithoutDNSOrAThread() throws {
        let identity = LocalPeerIdentity(listen: try SocketAddress(parsing: "10.0.0.1:5000"), environment: [:])
        // A nameserver nobody listens on: a static list must never ask it.
        let membership = try PeerMembership(
            source: .staticList(addresses("10.0.0.3:5000", "10.0.0.1:5000", "10.0.0.2:5000")),
            nameserver: try SocketAddress(parsing: "127.0.0.1:1"), identity: identity, logger: Logger(level: .error))
        defer { membership.stop() }
        #expect(membership.members == addresses("10.0.0.2:5000", "10.0.0.3:5000"))
        #expect(membership.version == 1)
        #expect(membership.metrics.queryLatency.counts.reduce(0, +) == 0)
        #expect(membership.metrics.memberCount == 2)
    }
}
