import Glibc
import TestSupport

/// curl as an HTTP client: each request writes its response head and body to files in the
/// test's directory, then they are read back.
final class Curl {
    /// One response, as curl received it (the last one, after any 100 Continue).
    struct Reply {
        let status: Int
        let headers: [(String, String)]
        let body: [UInt8]

        /// The value of the first field named `name` (case-insensitive).
        func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    let executable: String
    private let directory: String
    private var count = 0

    /// `directory` holds the head and body files; it must exist.
    init(directory: String) throws {
        executable = try ExternalTool.require("curl", package: "curl")
        self.directory = directory
    }

    /// Runs `curl -sS -D head -o body [arguments] url` and parses what came back. Throws if curl
    /// fails to get a response at all.
    func request(_ url: String, _ arguments: [String] = []) throws -> Reply {
        count += 1
        let headPath = "\(directory)/curl-\(count).head"
        let bodyPath = "\(directory)/curl-\(count).body"
        defer {
            unlink(headPath)
            unlink(bodyPath)
        }
        let run = try ExternalTool.run(
            executable, ["-sS", "--max-time", "30", "-D", headPath, "-o", bodyPath] + arguments + [url], timeoutSeconds: 60)
        try run.check()
        guard let head = Files.text(headPath) else { throw EndToEndFailure("curl wrote no head for \(url): \(run.output)") }
        return try Self.parse(head: head, body: Files.read(bodyPath) ?? [])
    }

    /// The last response head in `head` (curl writes one per response, 100 Continue included).
    static func parse(head: String, body: [UInt8]) throws -> Reply {
        let blocks = head.replacing("\r\n", with: "\n")
            .split(separator: "\n\n")
            .filter { $0.hasPrefix("HTTP/") }
        guard let last = blocks.last else { throw EndToEndFailure("no status line in curl's head file: \(head)") }
        var lines = last.split(separator: "\n").map(String.init)
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
            throw EndToEndFailure("bad status line in \(last)")
        }
        let headers = lines.compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingCharacters())
        }
        return Reply(status: status, headers: headers, body: body)
    }
}
