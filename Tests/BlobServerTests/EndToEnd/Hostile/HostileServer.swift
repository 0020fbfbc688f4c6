import BlobStore
import Testing
import TestSupport

/// A real `blobcache serve` holding one known blob, with a canary file beside its data
/// directory, for the hostile-input battery. `expectAnswered` runs one row and makes the checks
/// every row shares; the suites add what is particular to theirs.
final class HostileServer {
    /// How long a row may take, answer and close included: far more than any honest answer
    /// needs, far less than any of the server's timeouts, so a hang cannot pass for an answer.
    static let rowDeadlineSeconds = 5.0

    let directory = StoreTestDirectory("e2e-hostile")
    let server: ServerProcess
    let bytes = pseudoRandomBytes(count: 4096, seed: 51)
    let digest: Digest
    let canary: String
    let canaryBytes = Array("the canary must stay as it is\n".utf8)

    /// Where the server runs, when not on loopback.
    let namespace: NetworkNamespace?
    /// Sent with the known blob's GET: the credential when pulls need one.
    let pullHeaders: [String]

    /// Inside `namespace` the server listens on its non-loopback address, where writes may be
    /// refused, so the known blob goes into the data directory through the store before it
    /// starts; on loopback it is PUT like any client's.
    init(arguments: [String] = [], namespace: NetworkNamespace? = nil, pullHeaders: [String] = []) throws {
        canary = directory.file("canary")
        try Files.write(canaryBytes, to: canary)
        digest = Digest.of(bytes)
        self.namespace = namespace
        self.pullHeaders = pullHeaders
        if let namespace {
            let store = try BlobStore(directory: directory.data)
            try store.put(bytes, expected: digest)
            try store.close()
            server = try ServerProcess(dataDirectory: directory.data, arguments: arguments, host: NetworkNamespace.address, launcher: namespace.launcher)
        } else {
            server = try ServerProcess(dataDirectory: directory.data, arguments: arguments)
            let put = try server.request("PUT", "/blobs/\(digest)", body: bytes)
            guard put.status == 201 else { throw EndToEndFailure("PUT answered \(put.status) \(put.text)") }
        }
    }

    /// `ServerProcess.request`, from inside the namespace when there is one.
    func request(_ method: String, _ target: String, headers: [String] = [], body: [UInt8] = []) throws -> RawClient.Reply {
        try reachable { try server.request(method, target, headers: headers, body: body) }
    }

    /// Runs `body` where the server can be reached: inside its namespace, if it has one.
    private func reachable<Result>(_ body: () throws -> Result) throws -> Result {
        guard let namespace else { return try body() }
        return try namespace.entered(body)
    }

    /// Sends `request` on a new connection and reads until the server closes it (see
    /// `rowDeadlineSeconds`).
    func exchange(_ request: [UInt8]) throws -> HostileExchange {
        try reachable { try HostileExchange(request, host: server.host, port: server.port, deadlineSeconds: Self.rowDeadlineSeconds) }
    }

    /// Runs `row` and checks what every row must get: exactly one response, with the row's
    /// status (never a 5xx other than 501 and 505, which RFC 9110 and 9112 name for unknown
    /// methods and versions), its OCI code, and the connection closed within the deadline;
    /// then the server is still alive and still serves the known blob. Returns the exchange
    /// for the row's own checks, or nil when it could not be made.
    @discardableResult
    func expectAnswered(_ row: HostileRow) -> HostileExchange? {
        let answer: HostileExchange
        do { answer = try exchange(row.request) } catch {
            Issue.record("\(row): \(error)")
            return nil
        }
        let (closed, seconds) = (answer.closed, answer.seconds)
        #expect(closed, "\(row): the connection was still open after \(seconds) s (a hang)")
        #expect(seconds < Self.rowDeadlineSeconds, "\(row): took \(seconds) s")
        if let status = answer.status {
            #expect(status < 500 || status == 501 || status == 505, "\(row): a server error \(status): \(answer.text)")
            #expect(status == row.status, "\(row): \(status) \(answer.text)")
            if let code = row.code {
                #expect(answer.text.contains(#""code":"\#(code)""#), "\(row): not \(code): \(answer.text)")
            }
        } else {
            Issue.record("\(row): no response, only \(answer.bytes.count) bytes: \(String(decoding: answer.bytes.prefix(200), as: UTF8.self))")
        }
        #expect(answer.afterFirstResponse.isEmpty, "\(row): a second response: \(String(decoding: answer.afterFirstResponse.prefix(200), as: UTF8.self))")
        expectStillServing(after: row.name)
        return answer
    }

    /// Alive, and a plain GET of the known blob on a new connection answers its bytes.
    func expectStillServing(after what: String) {
        #expect(server.isAlive, "the server process died after \(what)")
        do {
            let reply = try request("GET", "/blobs/\(digest)", headers: pullHeaders)
            #expect(reply.status == 200 && reply.body == bytes, "after \(what): GET of the known blob answered \(reply.status)")
        } catch {
            Issue.record("after \(what): GET of the known blob failed: \(error)")
        }
    }

    /// Nothing but the data directory and the canary in the test directory, the canary as it
    /// was, and no blob in the store but the known one.
    func expectNothingTouchedOutsideTheStore() {
        #expect(directoryEntries(directory.path).sorted() == ["canary", "data"])
        #expect(Files.read(canary) == canaryBytes)
        #expect(Files.storedBlobs(in: directory.data) == ["\(digest)"])
    }
}
