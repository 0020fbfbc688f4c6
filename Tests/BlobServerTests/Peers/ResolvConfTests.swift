import BlobStore
import Glibc
import Testing
import TestSupport
@testable import BlobServer

@Suite struct ResolvConfTests {
    @Test func theFirstNameserverWinsOnPort53() {
        let text = "# generated\nsearch svc.cluster.local\nnameserver 10.96.0.10\nnameserver 10.96.0.11\noptions ndots:5\n"
        #expect(ResolvConf.firstNameserver(in: text) == (try? SocketAddress(parsing: "10.96.0.10:53")))
    }

    @Test func anIPv6NameserverIsBracketedWithPort53() {
        #expect(ResolvConf.firstNameserver(in: "nameserver fd00::a\n") == (try? SocketAddress(parsing: "[fd00::a]:53")))
    }

    @Test func commentsAndTabsAreIgnored() {
        let text = "#nameserver 1.1.1.1\n; nameserver 2.2.2.2\n\tnameserver\t192.0.2.53 # local\r\n"
        #expect(ResolvConf.firstNameserver(in: text) == (try? SocketAddress(parsing: "192.0.2.53:53")))
    }

    @Test func unusableLinesAreSkippedForTheNextNameserver() {
        let text = "nameserver\nnameserver fe80::1%eth0\nnameserver not-an-ip\nnameservers 9.9.9.9\nnameserver 192.0.2.1\n"
        #expect(ResolvConf.firstNameserver(in: text) == (try? SocketAddress(parsing: "192.0.2.1:53")))
    }

    @Test func noNameserverIsNil() {
        #expect(ResolvConf.firstNameserver(in: "search example.com\n") == nil)
        #expect(ResolvConf.firstNameserver(in: "") == nil)
    }

    @Test func theReaderReadsAFileAndAMissingFileIsNil() throws {
        let directory = StoreTestDirectory("resolvconf")
        let path = directory.file("resolv.conf")
        let file = try FileDescriptor.open(path, flags: O_WRONLY | O_CREAT)
        try Array("nameserver 127.0.0.53\n".utf8).withUnsafeBytes { try file.writeAll($0) }
        #expect(try ResolvConf.readFirstNameserver(path: path) == (try? SocketAddress(parsing: "127.0.0.53:53")))
        #expect(try ResolvConf.readFirstNameserver(path: directory.file("missing")) == nil)
    }
}
