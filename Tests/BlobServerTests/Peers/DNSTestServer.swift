import BlobStore
import Glibc
import TestSupport
@testable import BlobServer

/// A real nameserver for tests: dnsmasq on a free loopback UDP port, answering for `*.test`
/// from a hosts file the test writes, with a TTL of 30 s. Unknown `*.test` names get NXDOMAIN
/// (`--local`).
/// Stopped, and its directory removed, when the value goes away.
///
/// dnsmasq is never sent SIGHUP or SIGTERM: a child spawned from a test thread inherits that
/// thread's blocked signals, and dnsmasq does not unblock them. So the hosts file lives in a
/// `--hostsdir`, which dnsmasq rereads by itself (inotify), and stopping is SIGKILL.
final class DNSTestServer {
    let address: SocketAddress
    private let directory = StoreTestDirectory("dnsmasq")
    private let executable: String
    private let extraArguments: [String]
    private var process: ChildProcess?

    private var hostsDirectory: String { directory.file("hosts.d") }
    private var hostsPath: String { hostsDirectory + "/hosts" }

    /// Writes `hosts` (lines of `ADDRESS NAME`), starts dnsmasq and waits until it answers.
    init(hosts: String, extraArguments: [String] = []) throws {
        executable = try ExternalTool.require("dnsmasq", package: "dnsmasq-base")
        address = try SocketAddress(parsing: "127.0.0.1:\(try Self.freeUDPPort())")
        self.extraArguments = extraArguments
        guard mkdir(hostsDirectory, 0o700) == 0 else { throw EndToEndFailure("mkdir \(hostsDirectory): errno \(errno)") }
        try replaceHosts(hosts)
        try start()
    }

    deinit { stop() }

    func start() throws {
        // As root dnsmasq would switch to nobody, who cannot read our 0700 directory: stay
        // whoever we are.
        let user = String(cString: getpwuid(getuid()).pointee.pw_name)
        let group = String(cString: getgrgid(getgid()).pointee.gr_name)
        process = try ChildProcess(executable, [
            "--no-daemon", "--conf-file=/dev/null", "--pid-file=", "--user=\(user)", "--group=\(group)",
            "--port=\(address.port)", "--listen-address=127.0.0.1", "--bind-interfaces",
            "--no-resolv", "--no-hosts", "--hostsdir=\(hostsDirectory)", "--local=/test/", "--local-ttl=30",
            "--log-facility=\(directory.file("dnsmasq.log"))",
        ] + extraArguments)
        try waitUntilAnswering()
    }

    /// Stops dnsmasq and reaps it; a later `start()` brings it back on the same port.
    func stop() {
        process?.killAndWait()
        process = nil
    }

    private func waitUntilAnswering() throws {
        let client = DNSClient(nameserver: address, timeoutMilliseconds: 100, attempts: 1)
        let name = try DNSName(parsing: "readiness.test")
        let deadline = monotonicSeconds() + 10
        while monotonicSeconds() < deadline {
            if (try? client.lookup(name, type: .a)) != nil { return }
            usleep(20_000)
        }
        throw EndToEndFailure("dnsmasq did not answer on \(address) within 10 s")
    }

    /// Replaces the hosts file by rename, so dnsmasq never reads half of it; it notices and rereads.
    func replaceHosts(_ hosts: String) throws {
        let temporary = directory.file("hosts.new")
        let file = try FileDescriptor.open(temporary, flags: O_WRONLY | O_CREAT | O_TRUNC)
        let raw = file.rawValue
        let bytes = Array(hosts.utf8)
        guard bytes.withUnsafeBytes({ write(raw, $0.baseAddress, $0.count) }) == bytes.count else {
            throw EndToEndFailure("write \(temporary): errno \(errno)")
        }
        guard rename(temporary, hostsPath) == 0 else { throw EndToEndFailure("rename \(temporary): errno \(errno)") }
    }

    /// A loopback port nobody was using a moment ago, for UDP and for TCP (dnsmasq binds both).
    /// Chosen below the kernel's ephemeral range: a port the kernel handed out and took back
    /// could go to another test's outgoing connection before dnsmasq binds it (the slow-client
    /// suites open thousands), and a restarted dnsmasq must find its port free again.
    static func freeUDPPort() throws -> UInt16 {
        var ephemeralLow: Int32 = 32768
        if let range = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r") {
            withUnsafeMutablePointer(to: &ephemeralLow) { _ = withVaList([$0]) { vfscanf(range, "%d", $0) } }
            fclose(range)
        }
        let ephemeralStart = Int(ephemeralLow)
        let candidates = max(1024, ephemeralStart - 12_000)..<max(1025, ephemeralStart)
        for _ in 0..<200 {
            let port = UInt16(Int.random(in: candidates))
            if isFree(port, type: SOCK_DGRAM), isFree(port, type: SOCK_STREAM) { return port }
        }
        throw EndToEndFailure("no free loopback port in \(candidates)")
    }

    private static func isFree(_ port: UInt16, type: __socket_type) -> Bool {
        let raw = Glibc.socket(AF_INET, Int32(type.rawValue), 0)
        guard raw >= 0 else { return false }
        defer { close(raw) }
        guard let address = try? SocketAddress(parsing: "127.0.0.1:\(port)") else { return false }
        return address.withSockaddr { bind(raw, $0, $1) == 0 }
    }
}
