import BlobStore
import Glibc
import TestSupport
@testable import BlobServer

/// A cluster of blobcache nodes on loopback: node N listens on 127.0.0.N:P, every node on the
/// same port P (DNS gives peers only addresses), with its own data directory and log in one
/// temporary directory. P was free on every address the test said it would use, fakes included.
///
/// Cleanup: the nodes are SIGKILLed when the cluster goes away (each `PeerClusterNode`), then
/// the directory is removed.
final class PeerCluster {
    let port: UInt16
    /// Nodes in start order, killed ones included.
    private(set) var nodes: [PeerClusterNode] = []
    let directory: StoreTestDirectory

    /// Picks a port that binds on 127.0.0.N for every N in `hosts`.
    init(_ label: String, hosts: ClosedRange<Int>) throws {
        directory = StoreTestDirectory(label)
        port = try Self.portFreeOnEvery(hosts)
    }

    // The processes end before their directory goes: nothing writes into a removed tree.
    deinit { nodes.removeAll() }

    /// `127.0.0.N:P`.
    func address(_ host: Int) -> SocketAddress {
        try! SocketAddress(parsing: "127.0.0.\(host):\(port)")
    }

    /// `127.0.0.N:P,…` for `--peers`.
    func peerList(_ hosts: ClosedRange<Int>) -> String {
        hosts.map { "\(address($0))" }.joined(separator: ",")
    }

    /// Starts node N (on a fresh data directory) with `arguments` after `--listen` and `--data-dir`.
    @discardableResult
    func startNode(_ host: Int, arguments: [String]) throws -> PeerClusterNode {
        let node = try PeerClusterNode(
            address: address(host), dataDirectory: directory.file("node-\(host)"), logFile: directory.file("node-\(host).log"),
            arguments: arguments)
        nodes.append(node)
        return node
    }

    /// The node listening on `address`.
    func node(at address: SocketAddress) -> PeerClusterNode? {
        nodes.first { $0.address == address }
    }

    /// Every node's log, for a failure message.
    var logs: String {
        nodes.map { "--- \($0.address)\n\($0.log)" }.joined(separator: "\n")
    }

    /// Who owns `digest` among `members` by the ranking every node computes.
    static func owner(of digest: Digest, among members: [SocketAddress]) -> SocketAddress {
        RendezvousRanking(members: members).owner(of: RendezvousKey(digest: digest))!
    }

    /// Waits up to `seconds` for `condition`, checking every 100 ms; whether it came true.
    static func eventually(within seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = monotonicSeconds() + seconds
        while monotonicSeconds() < deadline {
            if try condition() { return true }
            pause(seconds: 0.1)
        }
        return try condition()
    }

    /// A port the kernel gave on the first address that also binds on all the others (then
    /// all released: free unless something takes it in between).
    private static func portFreeOnEvery(_ hosts: ClosedRange<Int>) throws -> UInt16 {
        for _ in 0..<20 {
            let first = try bound(try SocketAddress(parsing: "127.0.0.\(hosts.lowerBound):0"))
            defer { close(first.socket) }
            var others: [Int32] = []
            defer { others.forEach { close($0) } }
            for host in hosts.dropFirst() {
                guard let other = try? bound(try SocketAddress(parsing: "127.0.0.\(host):\(first.port)")) else { break }
                others.append(other.socket)
            }
            if others.count == hosts.count - 1 { return first.port }
        }
        throw EndToEndFailure("no port was free on every one of 127.0.0.\(hosts.lowerBound)-\(hosts.upperBound) in 20 tries")
    }

    /// A TCP socket bound to `address`, and the port it got.
    private static func bound(_ address: SocketAddress) throws -> (socket: Int32, port: UInt16) {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { throw EndToEndFailure("socket: errno \(errno)") }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = address.withSockaddr { bind(socket, $0, $1) == 0 } && withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) == 0 }
        }
        guard named else {
            close(socket)
            throw EndToEndFailure("bind \(address): errno \(errno)")
        }
        return (socket, SocketAddress(storage: storage).port)
    }
}
