import Glibc
import TestSupport

/// One `blobcache serve` process on 127.0.0.1 and a port the kernel picked, started from the
/// executable built next to this test binary.
///
/// Cleanup: the process is SIGKILLed and reaped when the value goes away (`ChildProcess`), so a
/// test that fails half-way leaves nothing running. `stop` ends it on purpose and reports how.
final class ServerProcess {
    static var executable: String { ChildProcess.buildProductsDirectory + "/blobcache" }

    let process: ChildProcess
    let port: UInt16
    let dataDirectory: String
    /// Where its log (stderr) goes when the test asked for one; otherwise it shares the test's stderr.
    let logFile: String?
    /// The line the server printed when it became ready.
    let readyLine: String
    private(set) var exitStatus: ExitStatus?

    var pid: pid_t { process.pid }
    /// `http://127.0.0.1:PORT`
    var baseURL: String { "http://127.0.0.1:\(port)" }
    /// `127.0.0.1:PORT`, as registry clients name the registry.
    var authority: String { "127.0.0.1:\(port)" }
    /// What it has logged so far, when it logs to `logFile`.
    var log: String { logFile.flatMap(Files.text) ?? "" }

    /// Starts `blobcache serve` on `dataDirectory` and waits (up to 15 s) for its ready line.
    /// With `logFile`, its log lines are appended there, so a test can read them.
    init(dataDirectory: String, arguments: [String] = [], logFile: String? = nil) throws {
        guard access(Self.executable, X_OK) == 0 else {
            throw EndToEndFailure("\(Self.executable) is missing: build the package's products (swift build --build-tests)")
        }
        self.dataDirectory = dataDirectory
        self.logFile = logFile
        let serve = ["serve", "--listen", "127.0.0.1:0", "--data-dir", dataDirectory, "--log-level", "warn"] + arguments
        if let logFile {
            // `exec`: the shell becomes blobcache, so the pid and the signals are its own.
            process = try ChildProcess("/bin/sh", ["-c", "log=$1; shift; exec \"$0\" \"$@\" 2>>\"$log\"", Self.executable, logFile] + serve)
        } else {
            process = try ChildProcess(Self.executable, serve)
        }
        guard let line = process.readLine(timeoutMilliseconds: 15_000) else {
            let status = process.signalAndWait(SIGKILL)
            throw EndToEndFailure("blobcache serve printed no ready line within 15 s (\(ExitStatus(raw: status)))")
        }
        guard let port = Self.port(in: line) else {
            throw EndToEndFailure("no http://127.0.0.1:PORT in the ready line: \(line)")
        }
        readyLine = line
        self.port = port
    }

    /// The port in `… listening on http://127.0.0.1:PORT …`.
    static func port(in line: String) -> UInt16? {
        let marker = "http://127.0.0.1:"
        guard let start = line.firstRange(of: marker)?.upperBound else { return nil }
        let digits = line[start...].prefix { $0.isASCII && $0.isNumber }
        guard let port = UInt16(digits), port > 0 else { return nil }
        return port
    }

    /// Sends `signal` and waits for the process to end.
    @discardableResult
    func stop(_ signal: Int32 = SIGTERM) -> ExitStatus {
        if let exitStatus { return exitStatus }
        let status = ExitStatus(raw: process.signalAndWait(signal))
        exitStatus = status
        return status
    }

    /// Waits for the process to end by itself.
    func waitForExit() -> ExitStatus {
        if let exitStatus { return exitStatus }
        let status = ExitStatus(raw: process.waitForExit())
        exitStatus = status
        return status
    }

    /// Whether the process is running (not ended, not a zombie).
    var isAlive: Bool {
        guard exitStatus == nil, let stat = Files.text("/proc/\(pid)/stat") else { return false }
        // "pid (comm) S …": the state follows the last ')'.
        guard let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(after: close)...].drop { $0 == " " }.first
        return state != nil && state != "Z" && state != "X"
    }

    /// Resident memory (VmRSS) in KiB, or nil if the process is gone.
    var residentKiB: Int? {
        guard let status = Files.text("/proc/\(pid)/status") else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.dropFirst("VmRSS:".count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "")
        }
        return nil
    }

    /// A raw-socket client connected to the server.
    func client(timeoutSeconds: Int = 10) throws -> RawClient {
        try RawClient(port: port, timeoutSeconds: timeoutSeconds)
    }

    /// One request on a fresh connection, with `Connection: close`; the reply.
    func request(_ method: String, _ target: String, headers: [String] = [], body: [UInt8] = []) throws -> RawClient.Reply {
        let client = try client()
        var head = "\(method) \(target) HTTP/1.1\r\nHost: \(authority)\r\nConnection: close\r\n"
        for header in headers { head += header + "\r\n" }
        if !body.isEmpty || method == "PUT" || method == "POST" || method == "PATCH" { head += "Content-Length: \(body.count)\r\n" }
        try client.send(Array((head + "\r\n").utf8) + body)
        return try client.readReply(isHead: method == "HEAD")
    }
}
