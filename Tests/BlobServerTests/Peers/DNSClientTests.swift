import BlobStore
import Glibc
import Testing
import TestSupport
@testable import BlobServer

private func host(_ text: String) -> SocketAddress.Host {
    (try! SocketAddress(parsing: text.contains(":") ? "[\(text)]:1" : "\(text):1")).host
}

private func hosts(of result: DNSLookupResult) -> [SocketAddress.Host] {
    guard case .addresses(let records) = result else { return [] }
    return records.map(\.host)
}

/// A UDP socket on loopback that receives queries and never answers.
private struct SilentNameserver: ~Copyable {
    let socket: FileDescriptor
    let address: SocketAddress

    init() throws {
        let address = try SocketAddress(parsing: "127.0.0.1:\(try DNSTestServer.freeUDPPort())")
        let raw = try syscall("socket") { Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0) }
        let descriptor = FileDescriptor(owning: raw)
        try address.withSockaddr { pointer, length throws(SystemError) in try syscall("bind") { bind(raw, pointer, length) } }
        self.address = address
        socket = descriptor
    }
}

@Suite(.serialized) struct DNSClientTests {
    @Test func resolvesEveryAAndAAAARecordOfANameFromDnsmasq() throws {
        let server = try DNSTestServer(hosts: "127.0.0.2 peers.test\n127.0.0.3 peers.test\n127.0.0.4 peers.test\nfd00::2 peers.test\n")
        let client = DNSClient(nameserver: server.address)
        let name = try DNSName(parsing: "peers.test")
        let found = hosts(of: try client.lookup(name, type: .a))
        #expect(found.count == 3 && [host("127.0.0.2"), host("127.0.0.3"), host("127.0.0.4")].allSatisfy(found.contains))
        #expect(hosts(of: try client.lookup(name, type: .aaaa)) == [host("fd00::2")])
        guard case .addresses(let records) = try client.lookup(name, type: .a) else { Issue.record("no addresses"); return }
        #expect(records.allSatisfy { $0.ttlSeconds == 30 })
    }

    @Test func sixtyPeersFitOneAnswerThanksToEDNS0() throws {
        // 60 A records take about 1 KB: past the classic 512-byte UDP answer, within the
        // 1232 bytes dnsmasq answers with over EDNS0 (the 2020 DNS flag day's size).
        let addresses = (0..<60).map { "127.0.\($0 / 250 + 1).\($0 % 250 + 1)" }
        let server = try DNSTestServer(hosts: addresses.map { "\($0) peers.test\n" }.joined())
        let found = hosts(of: try DNSClient(nameserver: server.address).lookup(try DNSName(parsing: "peers.test"), type: .a))
        #expect(found.count == 60)
        #expect(addresses.map(host).allSatisfy(found.contains))
    }

    @Test func fiveHundredPeersComeOverTCPWhenTheUDPAnswerIsTruncated() throws {
        // 500 A records take about 8 KB: no UDP answer holds them, so dnsmasq sets TC.
        let addresses = (0..<500).map { "127.0.\($0 / 250 + 1).\($0 % 250 + 1)" }
        let server = try DNSTestServer(hosts: addresses.map { "\($0) peers.test\n" }.joined())
        let found = hosts(of: try DNSClient(nameserver: server.address).lookup(try DNSName(parsing: "peers.test"), type: .a))
        #expect(found.count == 500)
        #expect(addresses.map(host).allSatisfy(found.contains))
    }

    @Test func followsACNAMEFromDnsmasq() throws {
        let server = try DNSTestServer(hosts: "127.0.0.2 peers.test\n", extraArguments: ["--cname=alias.test,peers.test"])
        let result = try DNSClient(nameserver: server.address).lookup(try DNSName(parsing: "alias.test"), type: .a)
        #expect(hosts(of: result) == [host("127.0.0.2")])
    }

    @Test func anUnknownNameIsNXDOMAINAndAMissingTypeIsAnEmptyAnswer() throws {
        let server = try DNSTestServer(hosts: "127.0.0.2 peers.test\n")
        let client = DNSClient(nameserver: server.address)
        #expect(try client.lookup(try DNSName(parsing: "nobody.test"), type: .a) == .nameDoesNotExist)
        #expect(try client.lookup(try DNSName(parsing: "peers.test"), type: .aaaa) == .addresses([]))
    }

    @Test func aNameserverThatNeverAnswersTimesOutAfterEveryAttempt() throws {
        let silent = try SilentNameserver()
        let client = DNSClient(nameserver: silent.address, timeoutMilliseconds: 50, attempts: 2)
        #expect(throws: DNSError.timedOut(nameserver: silent.address, attempts: 2)) { try client.lookup(try DNSName(parsing: "peers.test"), type: .a) }
    }

    @Test func aPortNobodyListensOnFails() throws {
        let address = try SocketAddress(parsing: "127.0.0.1:\(try DNSTestServer.freeUDPPort())")
        let client = DNSClient(nameserver: address, timeoutMilliseconds: 50, attempts: 2)
        #expect(throws: DNSError.self) { try client.lookup(try DNSName(parsing: "peers.test"), type: .a) }
    }

    @Test func aSignalledInterruptDescriptorCancelsTheWait() throws {
        let silent = try SilentNameserver()
        let interrupt = try Wakeup()
        interrupt.signal()
        let client = DNSClient(nameserver: silent.address, timeoutMilliseconds: 60_000, attempts: 2)
        #expect(throws: DNSError.cancelled) {
            try client.lookup(try DNSName(parsing: "peers.test"), type: .a, interruptDescriptor: interrupt.descriptor.rawValue)
        }
    }
}
