import Glibc
import TestSupport

/// Real clients (curl, skopeo, umoci, containerd, …) run as child processes.
///
/// A missing tool is a failure, never a skip: `require` throws a message naming the Debian
/// package to install (`make test` installs them all).
enum ExternalTool {
    /// The result of one run: how it ended and everything it wrote (stdout and stderr).
    struct Run {
        let command: String
        let status: ExitStatus
        let output: String

        var succeeded: Bool { status == .exited(0) }

        /// Throws with the command and its output unless it exited 0.
        @discardableResult
        func check() throws -> Run {
            guard succeeded else {
                let timedOut = status == .exited(124) || status == .exited(137) ? " (timed out)" : ""
                throw EndToEndFailure("`\(command)` failed with \(status)\(timedOut):\n\(output)")
            }
            return self
        }
    }

    /// The absolute path of `name`, or a failure that says which Debian package provides it.
    static func require(_ name: String, package: String) throws -> String {
        for directory in ["/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin", "/usr/local/sbin"] {
            let path = "\(directory)/\(name)"
            if access(path, X_OK) == 0 { return path }
        }
        throw EndToEndFailure(
            "\(name) is not installed: this end-to-end test needs the Debian package '\(package)' (apt-get install \(package), or run make test)")
    }

    /// Runs `executable` with `arguments`, stdout and stderr together, killed after
    /// `timeoutSeconds`. Waits for it to end.
    static func run(_ executable: String, _ arguments: [String], timeoutSeconds: Int = 120) throws -> Run {
        let child = try ChildProcess("/bin/sh", [
            "-c", "exec /usr/bin/timeout --kill-after=5 \(timeoutSeconds) \"$@\" 2>&1", "sh", executable,
        ] + arguments)
        let output = child.readOutput()
        let status = ExitStatus(raw: child.waitForExit())
        let command = ([executable] + arguments).joined(separator: " ")
        return Run(command: command, status: status, output: output)
    }

    /// Runs a shell command line (for pipes and redirections), like `run`.
    static func shell(_ script: String, timeoutSeconds: Int = 120) throws -> Run {
        let child = try ChildProcess("/bin/sh", [
            "-c", "exec /usr/bin/timeout --kill-after=5 \(timeoutSeconds) /bin/sh -c \"$0\" 2>&1", script,
        ])
        let output = child.readOutput()
        let status = ExitStatus(raw: child.waitForExit())
        return Run(command: script, status: status, output: output)
    }
}

/// Quotes `text` for a POSIX shell.
func shellQuoted(_ text: String) -> String {
    "'" + text.replacing("'", with: "'\\''") + "'"
}
