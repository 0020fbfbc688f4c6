/// One line of docker-registry's access log, which it writes to stdout in the Apache combined
/// format, one line per request once its response is written:
/// `127.0.0.1 - - [23/Nov/2026:16:43:00 +0000] "GET /v2/ HTTP/1.1" 200 2 "" "curl/7.88.1"`.
/// The user agent tells who asked: blobcache sends `blobcache/<version>`, containerd
/// `containerd/<version>`, skopeo `skopeo/<version>`.
struct RegistryAccessLogEntry: Equatable, CustomStringConvertible {
    let method: String
    /// The request target as sent: path and query.
    let target: String
    let status: Int
    /// Body bytes the registry wrote.
    let bytes: Int
    let userAgent: String

    /// The target without its query.
    var path: String { String(target.prefix { $0 != "?" }) }

    var description: String { "\(method) \(target) → \(status), \(bytes) bytes, \(userAgent)" }

    /// Parses one line; nil for anything else (the registry writes nothing else to stdout).
    init?(line: Substring) {
        // Quoted fields: the request line, the referer and the user agent. None of the clients
        // here sends a quote in its user agent, so splitting on quotes is exact.
        let parts = line.split(separator: "\"", omittingEmptySubsequences: false)
        guard parts.count >= 6 else { return nil }
        let request = parts[1].split(separator: " ")
        let numbers = parts[2].split(separator: " ")
        guard request.count == 3, numbers.count == 2, let status = Int(numbers[0]), let bytes = Int(numbers[1]) else { return nil }
        method = String(request[0])
        target = String(request[1])
        self.status = status
        self.bytes = bytes
        userAgent = String(parts[5])
    }

    /// The entries of a whole log, in order.
    static func entries(in log: String) -> [RegistryAccessLogEntry] {
        log.split(separator: "\n").compactMap(RegistryAccessLogEntry.init(line:))
    }
}
