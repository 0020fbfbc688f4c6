import BlobStore
import Glibc

/// The process's resident memory now (`VmRSS`) and at its peak (`VmHWM`), from
/// `/proc/self/status`. Blocking: it reads /proc.
struct ProcessMemory: Equatable {
    var residentBytes: UInt64?
    var peakResidentBytes: UInt64?

    static func current() -> ProcessMemory {
        guard let file = try? FileDescriptor.open("/proc/self/status", flags: O_RDONLY) else { return ProcessMemory() }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        // The file is a couple of KiB; 64 KiB is more than any kernel writes.
        while bytes.count < 64 << 10 {
            let count = chunk.withUnsafeMutableBytes { (try? file.read(into: $0)) ?? 0 }
            if count <= 0 { break }
            bytes += chunk[..<count]
        }
        return ProcessMemory(parsing: String(decoding: bytes, as: UTF8.self))
    }

    /// Reads `VmRSS:` and `VmHWM:` lines (`VmRSS:    12345 kB`).
    init(parsing status: String) {
        for line in status.split(separator: "\n") {
            if line.hasPrefix("VmRSS:") { residentBytes = Self.kilobytes(line) }
            if line.hasPrefix("VmHWM:") { peakResidentBytes = Self.kilobytes(line) }
        }
    }

    init(residentBytes: UInt64? = nil, peakResidentBytes: UInt64? = nil) {
        self.residentBytes = residentBytes
        self.peakResidentBytes = peakResidentBytes
    }

    private static func kilobytes(_ line: Substring) -> UInt64? {
        let fields = line.split { $0 == " " || $0 == "\t" }
        guard fields.count == 3, fields[2] == "kB", let value = UInt64(fields[1]) else { return nil }
        return value * 1024
    }
}
