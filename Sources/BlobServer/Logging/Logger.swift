import Glibc

/// Writes structured log lines as JSON, one object per line:
/// `{"ts":"2026-11-23T10:00:00.123Z","level":"info","msg":"request","status":200,…}`.
///
/// Thread-safe: each line is built by its caller and written with one `write(2)`, so lines from
/// different threads do not interleave on a pipe (lines under PIPE_BUF are written atomically)
/// or a file opened with O_APPEND. Lines below `level` cost one comparison.
public struct Logger: Sendable {
    public let level: LogLevel
    private let descriptor: Int32

    /// Logs to `descriptor` (stderr by default), which the caller keeps open.
    public init(level: LogLevel, descriptor: Int32 = 2) {
        self.level = level
        self.descriptor = descriptor
    }

    public func debug(_ message: String, _ fields: KeyValuePairs<String, LogField> = [:]) { log(.debug, message, fields) }
    public func info(_ message: String, _ fields: KeyValuePairs<String, LogField> = [:]) { log(.info, message, fields) }
    public func warn(_ message: String, _ fields: KeyValuePairs<String, LogField> = [:]) { log(.warn, message, fields) }
    public func error(_ message: String, _ fields: KeyValuePairs<String, LogField> = [:]) { log(.error, message, fields) }

    /// Writes one line if `severity` is at or above the logger's level.
    public func log(_ severity: LogLevel, _ message: String, _ fields: KeyValuePairs<String, LogField>) {
        guard severity >= level else { return }
        let line = Self.format(severity, message, fields, time: Self.now())
        line.utf8.withContiguousStorageIfAvailable { bytes in
            var done = 0
            while done < bytes.count {
                let written = write(descriptor, bytes.baseAddress! + done, bytes.count - done)
                if written <= 0 { if errno == EINTR { continue } else { return } }
                done += written
            }
        }
    }

    /// The line for these values, newline included (pure: tests call it with a fixed time).
    static func format(_ severity: LogLevel, _ message: String, _ fields: KeyValuePairs<String, LogField>, time: timespec) -> String {
        var line = "{\"ts\":\"\(timestamp(time))\",\"level\":\"\(severity.rawValue)\",\"msg\":"
        appendQuoted(message, to: &line)
        for (key, value) in fields {
            line += ","
            appendQuoted(key, to: &line)
            line += ":"
            switch value {
            case .string(let text): appendQuoted(text, to: &line)
            case .int(let number): line += String(number)
            case .uint(let number): line += String(number)
            case .double(let number): line += number.isFinite ? String(number) : "null"
            case .bool(let flag): line += flag ? "true" : "false"
            }
        }
        line += "}\n"
        return line
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped, so nothing a
    /// client sends (a path, a header) can break a line or forge another.
    static func appendQuoted(_ text: String, to line: inout String) {
        line += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": line += "\\\""
            case "\\": line += "\\\\"
            case "\n": line += "\\n"
            case "\r": line += "\\r"
            case "\t": line += "\\t"
            case "\u{0}"..."\u{1F}", "\u{7F}", "\u{2028}", "\u{2029}":
                let hex = String(scalar.value, radix: 16)
                line += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: line.unicodeScalars.append(scalar)
            }
        }
        line += "\""
    }

    /// RFC 3339 UTC with milliseconds.
    static func timestamp(_ time: timespec) -> String {
        var seconds = time.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(time.tv_nsec / 1_000_000), 3))Z"
    }

    static func now() -> timespec {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return time
    }
}
