import Glibc
import TestSupport

/// A private containerd (run as root) in its own temporary directory: its own root, state,
/// sockets and a hosts directory that makes `registry.example.invalid` pull through a mirror.
/// The CRI plugin is off, so it touches nothing of the machine's containerd.
///
/// Cleanup, in `deinit` even when a test fails: containerd is stopped (SIGTERM, then SIGKILL),
/// anything still mounted under its directory is unmounted, and the directory is removed.
final class ContainerdInstance {
    static let registry = "registry.example.invalid"

    let directory = StoreTestDirectory("e2e-containerd")
    let ctr: String
    private let process: ChildProcess
    private var stopped = false

    var socket: String { directory.file("containerd.sock") }
    var hostsDirectory: String { directory.file("hosts") }
    var log: String { Files.text(directory.file("containerd.log")) ?? "" }

    /// Starts containerd with `mirror` (`127.0.0.1:PORT`) as the only host for `registry`, and
    /// waits up to 20 s for it to answer `ctr version`.
    init(mirror: String) throws {
        let containerd = try ExternalTool.require("containerd", package: "containerd")
        ctr = try ExternalTool.require("ctr", package: "containerd")
        let root = directory.path
        for path in ["root", "state", "hosts", "hosts/\(Self.registry)"] {
            guard mkdir("\(root)/\(path)", 0o700) == 0 else { throw EndToEndFailure("mkdir \(root)/\(path): errno \(errno)") }
        }
        try Files.write("""
            version = 2
            root = "\(root)/root"
            state = "\(root)/state"
            disabled_plugins = ["io.containerd.grpc.v1.cri"]
            [grpc]
              address = "\(root)/containerd.sock"
            [ttrpc]
              address = "\(root)/containerd.sock.ttrpc"
            [debug]
              address = ""
            [metrics]
              address = ""

            """, to: "\(root)/config.toml")
        try Files.write("""
            server = "https://\(Self.registry)"

            [host."http://\(mirror)"]
              capabilities = ["pull", "resolve"]

            """, to: "\(root)/hosts/\(Self.registry)/hosts.toml")
        // `exec`: the shell becomes containerd, so signals reach it; its log goes to a file.
        process = try ChildProcess("/bin/sh", [
            "-c", "exec \"$0\" --config \"$1/config.toml\" --log-level warn >>\"$1/containerd.log\" 2>&1", containerd, root,
        ])
        let deadline = monotonicSeconds() + 20
        while true {
            if try ExternalTool.run(ctr, ["--address", socket, "version"], timeoutSeconds: 10).succeeded { break }
            guard monotonicSeconds() < deadline else {
                // Killed here, before its directory goes: deinit does not run for a failed init.
                process.signalAndWait(SIGKILL)
                stopped = true
                throw EndToEndFailure("containerd did not answer within 20 s (it must run as root); its log:\n\(log)")
            }
            pause(seconds: 0.1)
        }
    }

    deinit {
        stop()
        Self.unmountEverything(below: directory.path)
    }

    /// Runs `ctr --address … --namespace e2e <arguments>`.
    func run(_ arguments: [String], timeoutSeconds: Int = 120) throws -> ExternalTool.Run {
        try ExternalTool.run(ctr, ["--address", socket, "--namespace", "e2e"] + arguments, timeoutSeconds: timeoutSeconds)
    }

    /// `ctr images pull` of `reference` (a name under `registry`), through the hosts directory.
    func pull(_ reference: String) throws -> ExternalTool.Run {
        try run(["images", "pull", "--hosts-dir", hostsDirectory, reference])
    }

    /// The bytes of a blob in containerd's content store, or a failure with ctr's output.
    func content(_ digest: String) throws -> [UInt8] {
        let path = directory.file("content-\(digest.replacing(":", with: "-"))")
        defer { unlink(path) }
        let command = [ctr, "--address", socket, "--namespace", "e2e", "content", "get", digest].map(shellQuoted).joined(separator: " ")
        try ExternalTool.shell("\(command) > \(shellQuoted(path))").check()
        return Files.read(path) ?? []
    }

    /// SIGTERM, up to 10 s to exit, then SIGKILL.
    func stop() {
        guard !stopped else { return }
        stopped = true
        kill(process.pid, SIGTERM)
        let deadline = monotonicSeconds() + 10
        while monotonicSeconds() < deadline {
            guard let stat = Files.text("/proc/\(process.pid)/stat"),
                  let close = stat.lastIndex(of: ")"),
                  stat[stat.index(after: close)...].drop(while: { $0 == " " }).first != "Z"
            else { break }
            pause(seconds: 0.05)
        }
        process.signalAndWait(SIGKILL)
    }

    /// Mount points at or below `root`, deepest first.
    static func mounts(below root: String) -> [String] {
        let table = Files.text("/proc/self/mounts") ?? ""
        return table.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            guard fields.count > 1 else { return nil }
            let point = decodeMountPath(fields[1])
            return point == root || point.hasPrefix(root + "/") ? point : nil
        }.sorted { $0.count > $1.count }
    }

    /// Unmounts (lazily) everything at or below `root`: snapshotters can leave overlay mounts.
    static func unmountEverything(below root: String) {
        for point in mounts(below: root) { umount2(point, Int32(MNT_DETACH)) }
    }

    /// /proc/mounts writes space, tab, newline and backslash as octal escapes (`\040`).
    private static func decodeMountPath(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        let raw = Array(field.utf8)
        var index = 0
        while index < raw.count {
            if raw[index] == UInt8(ascii: "\\"), index + 3 < raw.count,
               let value = UInt8(String(decoding: raw[(index + 1)...(index + 3)], as: UTF8.self), radix: 8) {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(raw[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
