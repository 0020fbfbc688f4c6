import Glibc
import TestSupport

/// A network namespace of the test's own, made with `unshare -n`: nothing in it but a loopback
/// interface that also carries `address`, a TEST-NET-1 address (RFC 5737). A server listening
/// there is on a non-loopback address to its own eyes, yet nothing outside the namespace can
/// reach it, so a test can try what a remote client could without exposing the machine.
///
/// A holder process (`sleep`) keeps the namespace alive; servers join it with `launcher`
/// (`nsenter`), and the test's sockets are made inside it with `entered`. Cleanup: the holder
/// is SIGKILLed when the value goes away (`ChildProcess`), and the namespace goes with its last
/// process. Needs root (CAP_SYS_ADMIN) and iproute2.
final class NetworkNamespace {
    static let address = "192.0.2.1"

    private let holder: ChildProcess
    private let nsenter: String

    init() throws {
        let unshare = try ExternalTool.require("unshare", package: "util-linux")
        let ip = try ExternalTool.require("ip", package: "iproute2")
        nsenter = try ExternalTool.require("nsenter", package: "util-linux")
        let setUp = "\(ip) link set lo up && \(ip) addr add \(Self.address)/32 dev lo && echo ready && exec sleep 300"
        holder = try ChildProcess(unshare, ["--net", "/bin/sh", "-c", setUp])
        guard holder.readLine(timeoutMilliseconds: 10_000) == "ready" else {
            throw EndToEndFailure("unshare --net could not make a namespace with \(Self.address) on lo (this test needs root and iproute2)")
        }
    }

    /// `/proc/<holder>/ns/net`: the namespace, as `nsenter` and `setns` name it.
    private var path: String { "/proc/\(holder.pid)/ns/net" }

    /// A command prefix that runs a program inside the namespace (it execs it: same pid).
    var launcher: [String] { [nsenter, "--net=\(path)"] }

    /// Runs `body` with the calling thread inside the namespace, so sockets it makes live there
    /// (and keep working once the thread is back). Synchronous: the thread cannot change under it.
    func entered<Result>(_ body: () throws -> Result) throws -> Result {
        let original = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        let target = open(path, O_RDONLY | O_CLOEXEC)
        defer {
            if original >= 0 { close(original) }
            if target >= 0 { close(target) }
        }
        guard original >= 0, target >= 0 else { throw EndToEndFailure("cannot open the network namespaces: errno \(errno)") }
        guard Self.setNamespace(target, Self.newNetworkNamespace) == 0 else {
            throw EndToEndFailure("setns into \(path): errno \(errno)")
        }
        defer {
            // A thread left in the test's namespace would break every later test on it.
            precondition(Self.setNamespace(original, Self.newNetworkNamespace) == 0, "setns back: errno \(errno)")
        }
        return try body()
    }

    /// `CLONE_NEWNET`, which Glibc's module map leaves out (it needs _GNU_SOURCE).
    private static let newNetworkNamespace: Int32 = 0x4000_0000

    /// glibc's `setns(2)` wrapper, looked up at run time for the same reason.
    private static let setNamespace: @convention(c) (Int32, Int32) -> Int32 = {
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "setns") else { fatalError("glibc has no setns") }
        return unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
    }()
}
