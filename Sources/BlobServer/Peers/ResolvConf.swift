import BlobStore
import Glibc

/// The system's nameserver from `/etc/resolv.conf`, used when `--dns-server` is not given.
enum ResolvConf {
    static let defaultPath = "/etc/resolv.conf"

    /// The first `nameserver` line whose address we can use, on port 53. Comments (`#` or `;`,
    /// whole-line or trailing) are ignored. IPv6 addresses with a zone (`fe80::1%eth0`) are
    /// skipped: `SocketAddress` carries no scope, so the next line is tried instead.
    static func firstNameserver(in text: String) -> SocketAddress? {
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let content = line.prefix { $0 != "#" && $0 != ";" }
            let fields = content.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, fields[0] == "nameserver" else { continue }
            let host = fields[1]
            let text = host.contains(":") ? "[\(host)]:53" : "\(host):53"
            if let address = try? SocketAddress(parsing: text) { return address }
        }
        return nil
    }

    /// Reads `path` and returns its first usable nameserver; nil when the file is missing or
    /// names none. Blocking file I/O: call it off the event loops.
    static func readFirstNameserver(path: String = defaultPath) throws(SystemError) -> SocketAddress? {
        let file: FileDescriptor
        do {
            file = try FileDescriptor.open(path, flags: O_RDONLY)
        } catch {
            if error.errno == ENOENT { return nil }
            throw error
        }
        var contents: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        // resolv.conf is small; 64 KiB is more than any real one and bounds a hostile one.
        while contents.count < 65536 {
            let raw = file.rawValue
            let count = try syscall("read", path: path) { buffer.withUnsafeMutableBytes { Glibc.read(raw, $0.baseAddress, $0.count) } }
            if count == 0 { break }
            contents += buffer[..<count]
        }
        return firstNameserver(in: String(decoding: contents, as: UTF8.self))
    }
}
