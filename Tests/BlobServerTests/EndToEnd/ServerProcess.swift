import Glibc
import TestSupport

/// One `blobcache serve` process on 127.0.0.1 (or another `host`) and a port the kernel picked,
/// started from the executable built next to this test binary.
///
/// Cleanup: the process is SIGKILLed and reaped when the value goes away (`ChildProcess`), so a
/// test that fails half-way leaves nothing running. `stop` ends it on purpose and reports how.
final class ServerProcess {
    static var executable: String { ChildProcess.buildProductsDirectory + "/blobcache" }

    let process: ChildProcess
    /// The IPv4 address it listens on.
    let host: String
    let port: UInt16
    let dataDirectory: String
    /// Where its log (stderr) goes when the test asked for one; otherwise it shares the test's stderr.
    let logFile: String?
    /// The line the server printed when it became ready.
    let readyLine: String
    private(set) var exitStatus: ExitStatus?

    var pid: pid_t { process.pid }
    /// `http://HOST:PORT`
    var baseURL: String { "http://\(host):\(port)" }
    /// `HOST:PORT`, as registry clients name the registry.
    var authority: String { "\(host):\(port)" }
    /// What it has logged so far, when it logs to `logFile`.
    var log: String { logFile.flatMap(Files.text) ?? "" }

    /// Starts `blobcache serve` on `dataDirectory` and waits (up to 15 s) for its ready line.
    /// With `logFile`, its log lines (from `logLevel` up) are appended there, so a test can read
    /// them. It listens on `host` (port 0); `launcher` is a command that runs it, and must exec it
    /// so the pid is blobcache's (`nsenter --net=…`, to serve inside a `NetworkNamespace`).
    init(
        dataDirectory: String, arguments: [String] = [], logFile: String? = nil, logLevel: String = "warn", host: String = "127.0.0.1",
        launcher: [String] = []
    ) throws {
        guard access(Self.executable, X_OK) == 0 else {
            throw EndToEndFailure("\(Self.executable) is missing: build the package's products (swift build --build-tests)")
        }
        self.dataDirectory = dataDirectory
        self.logFile = logFile
        self.host = host
        let serve = ["serve", "--listen", "\(host):0", "--data-dir", dataDirectory, "--log-level", logLevel] + arguments
        let command = launcher + [Self.executable] + serve
        if let logFile {
            // `exec`: the shell becomes blobcache, so the pid and the signals are its own.
            process = try ChildProcess("/bin/sh", ["-c", "log=$1; shift; exec \"$0\" \"$@\" 2>>\"$log\"", command[0], logFile] + command.dropFirst())
        } else {
            process = try ChildProcess(command[0], Array(command.dropFirst()))
        }
        guard let line = process.readLine(timeoutMilliseconds: 15_000) else {
            let status = process.signalAndWait(SIGKILL)
            throw EndToEndFailure("blobcache serve printed no ready line within 15 s (\(ExitStatus(raw: status)))")
        }
        guard let port = Self.port(in: line, host: host) else {
            throw EndToEndFailure("no http://\(host):PORT in the ready line: \(line)")
        }
        readyLine = line
        self.port = port
    }

    /// The port in `… listening on http://HOST:PORT …`.
    static func port(in line: String, host: String = "127.0.0.1") -> UInt16? {
        let marker = "http://\(host):"
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
        try RawClient(host: host, port: port, timeoutSeconds: timeoutSeconds)
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
