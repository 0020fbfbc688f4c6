import Glibc
import TestSupport

/// Debian's `docker-registry` (registry:2, 2.8) as a real upstream: on 127.0.0.1 and a free
/// port, filesystem storage in its own temporary directory, plain HTTP or TLS with a
/// certificate from a `TestCertificateAuthority`.
///
/// Its access log (stdout, see `RegistryAccessLogEntry`) and its own log (stderr) go to files.
/// An access-log line is written as its response completes, so counts are final once `stop`
/// has returned.
///
/// Cleanup, in `deinit` even when a test fails: SIGTERM, up to 10 s to exit, then SIGKILL; the
/// directory goes with it.
final class DockerRegistry {
    let directory = StoreTestDirectory("e2e-registry")
    let port: UInt16
    let certificateAuthority: TestCertificateAuthority?
    private let process: ChildProcess
    private var stopped = false

    /// `127.0.0.1:PORT`, as registry clients name it.
    var authority: String { "127.0.0.1:\(port)" }
    /// `http://127.0.0.1:PORT`, or `https://…` with TLS.
    var baseURL: String { "\(certificateAuthority == nil ? "http" : "https")://\(authority)" }
    /// Its own log (stderr): start-up, errors, TLS handshake failures.
    var log: String { Files.text(directory.file("registry.log")) ?? "" }
    /// Every request it has answered so far, in order.
    var accessLog: [RegistryAccessLogEntry] { RegistryAccessLogEntry.entries(in: Files.text(directory.file("access.log")) ?? "") }

    /// Starts a registry (with TLS when `tls` is given) and waits up to 15 s until it answers
    /// `GET /v2/`. The port is one the kernel just handed out and took back, so another process
    /// may take it first: the start is then retried on another.
    static func start(tls: TestCertificateAuthority? = nil) throws -> DockerRegistry {
        var attempt = 1
        while true {
            do {
                return try DockerRegistry(port: try unusedLoopbackPort(), tls: tls)
            } catch is PortTaken where attempt < 3 {
                attempt += 1
            }
        }
    }

    private init(port: UInt16, tls: TestCertificateAuthority?) throws {
        let executable = try ExternalTool.require("docker-registry", package: "docker-registry")
        let curl = try ExternalTool.require("curl", package: "curl")
        self.port = port
        certificateAuthority = tls
        let root = directory.path
        let tlsSection = tls.map { "\n  tls:\n    certificate: \($0.serverCertificate)\n    key: \($0.serverKey)" } ?? ""
        try Files.write("""
            version: 0.1
            log:
              level: warn
            storage:
              filesystem:
                rootdirectory: \(root)/storage
            http:
              addr: 127.0.0.1:\(port)
              secret: blobcache-end-to-end\(tlsSection)

            """, to: "\(root)/config.yml")
        // `exec`: the shell becomes the registry, so signals reach it.
        process = try ChildProcess("/bin/sh", [
            "-c", "exec \"$0\" serve \"$1/config.yml\" >>\"$1/access.log\" 2>>\"$1/registry.log\"", executable, root,
        ])
        let trust = tls.map { ["--cacert", $0.certificate] } ?? []
        let deadline = monotonicSeconds() + 15
        while true {
            let probe = try ExternalTool.run(curl, ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "2"] + trust + ["\(baseURL)/v2/"])
            if probe.output == "200" { break }
            if !isRunning || monotonicSeconds() > deadline {
                // Stopped first, so its log is complete before it is read.
                stop()
                if log.contains("address already in use") { throw PortTaken() }
                throw EndToEndFailure("docker-registry did not answer GET /v2/ on \(baseURL) within 15 s (curl: \(probe.output)); its log:\n\(log)")
            }
            pause(seconds: 0.05)
        }
    }

    deinit { stop() }

    /// The requests for `path` (the query ignored) with `method`, in order.
    func requests(_ method: String, _ path: String) -> [RegistryAccessLogEntry] {
        accessLog.filter { $0.method == method && $0.path == path }
    }

    /// Pushes tag v1 of `image` as `reference` (`repository:tag`) with skopeo.
    func push(_ image: OCIImageLayout, as reference: String) throws {
        try Skopeo.push(image, to: "docker://\(authority)/\(reference)").check()
    }

    /// SIGTERM, up to 10 s to exit, then SIGKILL. The access log is complete when it returns.
    func stop() {
        guard !stopped else { return }
        stopped = true
        kill(process.pid, SIGTERM)
        let deadline = monotonicSeconds() + 10
        while isRunning && monotonicSeconds() < deadline { pause(seconds: 0.02) }
        process.signalAndWait(SIGKILL)
    }

    /// Whether the process is alive (not exited, not a zombie).
    private var isRunning: Bool {
        guard let stat = Files.text("/proc/\(process.pid)/stat"), let close = stat.lastIndex(of: ")") else { return false }
        return stat[stat.index(after: close)...].drop(while: { $0 == " " }).first != "Z"
    }

    /// Another process took the port between our probe and the registry's bind.
    private struct PortTaken: Error {}

    /// A loopback port the kernel just handed out and took back: free unless something takes it
    /// in between.
    private static func unusedLoopbackPort() throws -> UInt16 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw EndToEndFailure("socket: errno \(errno)") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0 }
        }
        guard bound else { throw EndToEndFailure("bind or getsockname on 127.0.0.1:0: errno \(errno)") }
        return UInt16(bigEndian: address.sin_port)
    }
}
