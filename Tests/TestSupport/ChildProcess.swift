import Glibc

/// A child process started with posix_spawn, its stdout on a pipe. Killed (SIGKILL) and reaped
/// when the value goes away, so a failing test never leaves it running.
public final class ChildProcess {
    public let pid: pid_t
    private let output: Int32
    private var reaped = false

    public init(_ executable: String, _ arguments: [String]) throws {
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else { throw ChildProcessError.pipe(errno) }
        // Close-on-exec on both ends, so other tests' children never hold this pipe open;
        // dup2 into the child's stdout clears it there.
        for end in pipeEnds { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child = pid_t()
        let result = posix_spawn(&child, executable, &actions, nil, argv, environ)
        close(pipeEnds[1])
        guard result == 0 else {
            close(pipeEnds[0])
            throw ChildProcessError.spawn(executable, result)
        }
        pid = child
        output = pipeEnds[0]
    }

    deinit {
        if !reaped { kill(pid, SIGKILL); waitpid(pid, nil, 0) }
        close(output)
    }

    /// Sends SIGKILL and waits for the process to die. Returns the raw wait status.
    @discardableResult
    public func killAndWait() -> Int32 { signalAndWait(SIGKILL) }

    /// Sends `signal` and waits for the process to end. Returns the raw wait status.
    @discardableResult
    public func signalAndWait(_ signal: Int32) -> Int32 {
        kill(pid, signal)
        return waitForExit()
    }

    /// Waits for the process to end by itself. Returns the raw wait status.
    @discardableResult
    public func waitForExit() -> Int32 {
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        reaped = true
        return status
    }

    /// The first line the child writes to stdout, waiting up to `timeoutMilliseconds`; nil if
    /// none came. Reads byte by byte, so nothing after the line is consumed.
    public func readLine(timeoutMilliseconds: Int32) -> String? {
        var line: [UInt8] = []
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let end = Int64(deadline.tv_sec) * 1000 + Int64(deadline.tv_nsec) / 1_000_000 + Int64(timeoutMilliseconds)
        while true {
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            let left = end - (Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000)
            guard left > 0 else { return nil }
            var request = pollfd(fd: output, events: Int16(POLLIN), revents: 0)
            guard poll(&request, 1, Int32(left)) == 1 else { continue }
            var byte: UInt8 = 0
            guard read(output, &byte, 1) == 1 else { return nil }
            if byte == UInt8(ascii: "\n") { return String(decoding: line, as: UTF8.self) }
            line.append(byte)
        }
    }

    /// Everything the child wrote to stdout until it closed it (at exit, at the latest).
    public func readOutput() -> String {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(output, &buffer, buffer.count)
            if count <= 0 { break }
            bytes += buffer[..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The directory holding this test binary, where SwiftPM also puts the package's executables.
    public static var buildProductsDirectory: String {
        var path = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &path, path.count - 1)
        let exe = String(decoding: path.prefix(max(0, count)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var parts = exe.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast()
        return parts.joined(separator: "/")
    }
}

public enum ChildProcessError: Error {
    case pipe(Int32)
    case spawn(String, Int32)
}
