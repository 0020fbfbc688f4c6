import Glibc
import TestSupport
@testable import BlobServer

/// One `blobcache serve` in a cluster of peers on loopback: it listens on its own address
/// (127.0.0.N:P, every node on the same port P, as pods behind a headless Service), which
/// `ServerProcess` (127.0.0.1 and a port the kernel picks) cannot do. Its log goes to a file.
///
/// Cleanup: SIGKILLed and reaped when the value goes away (`ChildProcess`), so a test that
/// fails half-way leaves nothing running; `stop` and `kill` end it on purpose.
final class PeerClusterNode {
    let address: SocketAddress
    let dataDirectory: String
    let logFile: String
    private let process: ChildProcess
    private var exitStatus: ExitStatus?

    /// What it has logged so far.
    var log: String { Files.text(logFile) ?? "" }

    /// Starts `blobcache serve --listen address` on `dataDirectory` with `arguments`, and waits
    /// (up to 15 s) for its ready line, which must name `address`.
    init(address: SocketAddress, dataDirectory: String, logFile: String, arguments: [String]) throws {
        guard access(ServerProcess.executable, X_OK) == 0 else {
            throw EndToEndFailure("\(ServerProcess.executable) is missing: build the package's products (swift build --build-tests)")
        }
        self.address = address
        self.dataDirectory = dataDirectory
        self.logFile = logFile
        // Level info: a failing test shows which peer each node asked and what it answered.
        let serve = ["serve", "--listen", "\(address)", "--data-dir", dataDirectory, "--log-level", "info"] + arguments
        // `exec`: the shell becomes blobcache, so the pid and the signals are its own.
        process = try ChildProcess(
            "/bin/sh", ["-c", "log=$1; shift; exec \"$0\" \"$@\" 2>>\"$log\"", ServerProcess.executable, logFile] + serve)
        let line = process.readLine(timeoutMilliseconds: 15_000)
        guard let line, line.contains("http://\(address)") else {
            let status = ExitStatus(raw: process.signalAndWait(SIGKILL))
            exitStatus = status
            throw EndToEndFailure("node \(address) did not get ready within 15 s (\(status)); ready line: \(line ?? "none"); log:\n\(log)")
        }
    }

    /// SIGTERM, and the wait for it to end.
    @discardableResult
    func stop() -> ExitStatus { end(SIGTERM) }

    /// SIGKILL: the node vanishes mid-whatever, as a crashed pod does.
    func kill() { _ = end(SIGKILL) }

    private func end(_ signal: Int32) -> ExitStatus {
        if let exitStatus { return exitStatus }
        let status = ExitStatus(raw: process.signalAndWait(signal))
        exitStatus = status
        return status
    }

    /// A GET on a fresh connection, its body kept.
    func get(_ path: String) throws -> ClusterDownloads.Outcome {
        try ClusterDownloads.get(path, from: address)
    }

    /// One sample of `/metrics`: the series `name` with exactly `labels` (`outcome="served"`),
    /// or nil when the page has no such series.
    func metric(_ name: String, labels: String = "") throws -> Double? {
        let page = try get("/metrics")
        guard page.status == 200, page.isComplete else { throw EndToEndFailure("GET /metrics on \(address) answered \(page.status)") }
        let series = labels.isEmpty ? "\(name) " : "\(name){\(labels)} "
        guard let line = page.text.split(separator: "\n").first(where: { $0.hasPrefix(series) }) else { return nil }
        return Double(line.dropFirst(series.count))
    }
}
