/// One row of the hostile-input battery: the exact bytes of a request, and the answer the
/// server must give (`HostileServer.expectAnswered` checks it and the server's health after).
struct HostileRow: CustomStringConvertible {
    let name: String
    let request: [UInt8]
    /// The status of the one response the server must send.
    let status: Int
    /// The OCI error code its JSON body must carry, when the registry answers.
    let code: String?

    /// A row from raw text, sent exactly as written.
    init(_ name: String, _ request: String, _ status: Int, code: String? = nil) {
        self.init(name, bytes: Array(request.utf8), status, code: code)
    }

    init(_ name: String, bytes: [UInt8], _ status: Int, code: String? = nil) {
        self.name = name
        request = bytes
        self.status = status
        self.code = code
    }

    /// A well-framed request (`Host`, `Connection: close`, a `Content-Length` for a body), so
    /// the server closes once it has answered. Not for HEAD: the answer is read as a GET's.
    static func request(
        _ name: String, _ method: String, _ target: String, headers: [String] = [], body: [UInt8] = [], status: Int, code: String? = nil
    ) -> HostileRow {
        var head = "\(method) \(target) HTTP/1.1\r\nHost: blobcache.test\r\nConnection: close\r\n"
        for header in headers { head += header + "\r\n" }
        if !body.isEmpty || ["PUT", "POST", "PATCH"].contains(method) { head += "Content-Length: \(body.count)\r\n" }
        return HostileRow(name, bytes: Array((head + "\r\n").utf8) + body, status, code: code)
    }

    var description: String { name }
}
