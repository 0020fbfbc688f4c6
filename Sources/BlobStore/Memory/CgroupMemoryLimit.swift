import Glibc

/// The memory limit of the cgroup the process runs in, from which `MemoryBudget` derives its
/// default. Reading is I/O at the edge (`current()`); interpreting the files is pure (`parse`).
public enum CgroupMemoryLimit {
    /// The cgroup v2 limit file of the root of the visible hierarchy; inside a container with
    /// its own cgroup namespace this is the container's limit.
    static let v2RootFile = "/sys/fs/cgroup/memory.max"
    /// The cgroup v1 limit file as container runtimes mount it.
    static let v1File = "/sys/fs/cgroup/memory/memory.limit_in_bytes"
    /// cgroup v1 reports "no limit" as a huge number (PAGE_COUNTER_MAX pages); anything this
    /// large is treated as none.
    static let v1Unlimited: UInt64 = 1 << 60

    /// The limit in bytes, or nil when there is none (or no cgroup file is readable).
    ///
    /// On cgroup v2 it reads `memory.max` of the process's own cgroup (from `/proc/self/cgroup`,
    /// so a systemd unit's `MemoryMax=` counts) and of each ancestor up to
    /// `/sys/fs/cgroup/memory.max`, and returns the smallest. Otherwise it reads
    /// `/sys/fs/cgroup/memory/memory.limit_in_bytes` (cgroup v1). Blocking file reads: call it
    /// at startup, not on an event loop.
    public static func current() -> UInt64? {
        var limit: UInt64?
        var sawV2 = false
        for path in v2Files(procSelfCgroup: readSmallFile("/proc/self/cgroup")) {
            guard let text = readSmallFile(path) else { continue }
            sawV2 = true
            if let found = parse(v2: text, v1: nil) { limit = min(limit ?? found, found) }
        }
        if sawV2 { return limit }
        return parse(v2: nil, v1: readSmallFile(v1File))
    }

    /// Interprets the contents of the limit files; nil for a file that is absent.
    ///
    /// - `v2` (`memory.max`), when present, decides: `max` means no limit, else a number of
    ///   bytes. `v1` is looked at only when `v2` is nil.
    /// - `v1` (`memory.limit_in_bytes`): a number of bytes; 2^60 or more means no limit.
    ///
    /// Surrounding whitespace is ignored. Text that is not a number, and a limit of 0 (a cgroup
    /// that can hold no memory gives no usable budget), give nil.
    public static func parse(v2: String?, v1: String?) -> UInt64? {
        if let v2 {
            let text = trimmed(v2)
            if text == "max" { return nil }
            return UInt64(text).flatMap { $0 > 0 ? $0 : nil }
        }
        guard let v1, let value = UInt64(trimmed(v1)), value > 0, value < v1Unlimited else { return nil }
        return value
    }

    /// The cgroup v2 `memory.max` files that bound this process, innermost first, ending with
    /// `/sys/fs/cgroup/memory.max`. `procSelfCgroup` is the text of `/proc/self/cgroup`; its
    /// `0::/path` line names the process's cgroup. A path with `..` is ignored.
    static func v2Files(procSelfCgroup: String?) -> [String] {
        var files: [String] = []
        let line = procSelfCgroup?.split(separator: "\n").first { $0.hasPrefix("0::/") }
        if let line {
            let parts = line.dropFirst(3).split(separator: "/")
            if !parts.contains("..") && !parts.contains(".") {
                for depth in stride(from: parts.count, to: 0, by: -1) {
                    files.append("/sys/fs/cgroup/" + parts.prefix(depth).joined(separator: "/") + "/memory.max")
                }
            }
        }
        files.append(v2RootFile)
        return files
    }

    private static func trimmed(_ text: String) -> Substring {
        let isSpace: (Character) -> Bool = { $0.isWhitespace }
        let start = text.firstIndex { !isSpace($0) } ?? text.endIndex
        let end = text.lastIndex { !isSpace($0) }.map { text.index(after: $0) } ?? start
        return text[start..<end]
    }

    /// The text of a small file (cgroup and proc files; at most 64 KiB), or nil when it cannot
    /// be opened or read.
    private static func readSmallFile(_ path: String) -> String? {
        guard let file = try? FileDescriptor.open(path, flags: O_RDONLY) else { return nil }
        var bytes = [UInt8](repeating: 0, count: 64 * 1024)
        var count = 0
        while count < bytes.count {
            let done = bytes.withUnsafeMutableBytes { buffer -> Int? in
                try? file.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[count...]), path: path)
            }
            guard let done else { return nil }
            if done == 0 { break }
            count += done
        }
        return String(decoding: bytes[..<count], as: UTF8.self)
    }
}
