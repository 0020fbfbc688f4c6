import Glibc
import Testing
import TestSupport
@testable import BlobServer

/// A test CA and two server certificates made with the `openssl` command in a fresh directory:
/// `good` names `localhost` and `127.0.0.1`, `wrong` names only `example.test`. The directory
/// also holds the files `openssl s_server -WWW` serves.
final class TestCertificates {
    let directory = StoreTestDirectory("upstream-tls")
    var caFile: String { directory.file("ca.pem") }

    init() throws {
        let script = """
            set -e
            cd '\(directory.path)'
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem -days 2 \
              -subj /CN=blobcache-test-ca -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign
            for name in good:DNS:localhost,IP:127.0.0.1 wrong:DNS:example.test; do
              leaf=${name%%:*}; san=${name#*:}
              openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout $leaf.key -out $leaf.csr -subj /CN=$leaf
              printf 'subjectAltName=%s\\n' "$san" > $leaf.ext
              openssl x509 -req -in $leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $leaf.pem -days 2 -extfile $leaf.ext
            done
            """
        let status = try ChildProcess("/bin/sh", ["-c", "(\(script)) >/dev/null 2>&1"]).waitForExit()
        guard status == 0 else { throw TLSTestError("making the certificates failed: status \(status)") }
    }

    /// Writes `bytes` to `name` in the served directory.
    func serve(_ name: String, _ bytes: [UInt8]) throws {
        let file = fopen(directory.file(name), "w")
        guard let file, fwrite(bytes, 1, bytes.count, file) == bytes.count, fclose(file) == 0 else {
            throw TLSTestError("cannot write \(name)")
        }
    }
}

struct TLSTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `openssl s_server -WWW` on a loopback port with one of the test certificates: it answers
/// `GET /name` with the file's bytes (HTTP/1.0, close-delimited), one connection at a time.
/// Killed (and reaped) by `stop()` or when dropped.
final class OpenSSLServer {
    let process: ChildProcess
    let port: UInt16

    init(_ certificates: TestCertificates, certificate: String) throws {
        let directory = certificates.directory.path
        process = try ChildProcess("/bin/sh", ["-c", """
            cd '\(directory)' && exec openssl s_server -accept 127.0.0.1:0 -cert \(certificate).pem -key \(certificate).key -WWW 2>/dev/null
            """])
        // s_server prints `ACCEPT 127.0.0.1:PORT` once it listens.
        var found: UInt16?
        while found == nil, let line = process.readLine(timeoutMilliseconds: 5000) {
            if line.hasPrefix("ACCEPT ") { found = line.split(separator: ":").last.flatMap { UInt16($0) } }
        }
        guard let found else {
            process.killAndWait()
            throw TLSTestError("openssl s_server did not start listening")
        }
        port = found
    }

    func stop() { process.killAndWait() }
}

@Suite struct UpstreamTLSTests {
    let content = pseudoRandomBytes(count: 300_000, seed: 11)

    func client(host: String, port: UInt16, counters: UpstreamCounters = UpstreamCounters(),
                _ configure: (inout UpstreamClient.Configuration) -> Void) throws -> UpstreamClient {
        try UpstreamClient(
            configuration: UpstreamTesting.configuration(port: port, host: host, scheme: "https", configure), counters: counters)
    }

    @Test(arguments: ["localhost", "127.0.0.1"])
    func aServerCertifiedByTheConfiguredCAIsTrustedByNameAndByAddress(host: String) throws {
        let certificates = try TestCertificates()
        try certificates.serve("blob", content)
        let server = try OpenSSLServer(certificates, certificate: "good")
        defer { server.stop() }
        let client = try client(host: host, port: server.port) { $0.caFile = certificates.caFile }
        for _ in 0..<2 {
            let (status, body) = try UpstreamTesting.fetch(client, UpstreamTesting.get("/blob"))
            #expect(status == 200)
            #expect(body == content)
        }
    }

    @Test func withoutTheCAVerificationFailsAndIsNotRetried() throws {
        let certificates = try TestCertificates()
        let server = try OpenSSLServer(certificates, certificate: "good")
        defer { server.stop() }
        let counters = UpstreamCounters()
        let client = try client(host: "localhost", port: server.port, counters: counters) { _ in }
        let error = UpstreamTesting.error { _ = try client.send(UpstreamTesting.get("/blob")) }
        #expect(error?.caseName == "unreachable")
        #expect(error?.description.contains("verification failed") == true, "\(String(describing: error))")
        #expect(counters.snapshot.retries == 0)
    }

    @Test func withVerificationOffAnUntrustedServerIsAccepted() throws {
        let certificates = try TestCertificates()
        try certificates.serve("blob", content)
        let server = try OpenSSLServer(certificates, certificate: "wrong")
        defer { server.stop() }
        let client = try client(host: "127.0.0.1", port: server.port) { $0.tlsVerify = false }
        #expect(try UpstreamTesting.fetch(client, UpstreamTesting.get("/blob")).body == content)
    }

    @Test(arguments: [("127.0.0.1", "IP address mismatch"), ("localhost", "hostname mismatch")])
    func aCertificateForAnotherNameFailsEvenFromATrustedCA(host: String, reason: String) throws {
        let certificates = try TestCertificates()
        let server = try OpenSSLServer(certificates, certificate: "wrong")
        defer { server.stop() }
        let client = try client(host: host, port: server.port) { $0.caFile = certificates.caFile }
        let error = UpstreamTesting.error { _ = try client.send(UpstreamTesting.get("/blob")) }
        #expect(error?.caseName == "unreachable")
        #expect(error?.description.contains(reason) == true, "\(String(describing: error))")
    }

    @Test func aTLSServerThatStallsTimesOutWithinTheFirstByteTimeout() throws {
        let certificates = try TestCertificates()
        // s_server blocks opening a FIFO nobody writes: the handshake is done, no byte follows.
        #expect(mkfifo(certificates.directory.file("stall"), 0o600) == 0)
        let server = try OpenSSLServer(certificates, certificate: "good")
        defer { server.stop() }
        let client = try client(host: "localhost", port: server.port) {
            $0.caFile = certificates.caFile
            $0.firstByteTimeoutSeconds = 0.3
        }
        let start = monotonicSeconds()
        let error = UpstreamTesting.error { _ = try client.send(UpstreamTesting.get("/stall")) }
        #expect(error?.caseName == "timedOut")
        #expect(monotonicSeconds() - start < 2)
    }

    @Test func aHandshakeWithAServerThatNeverAnswersTimesOutWithinTheConnectTimeout() throws {
        let silent = try FakeHTTPServer { _ in .silence }
        defer { silent.stop() }
        let client = try client(host: "127.0.0.1", port: silent.port) { $0.connectTimeoutSeconds = 0.3 }
        let start = monotonicSeconds()
        let error = UpstreamTesting.error { _ = try client.send(UpstreamTesting.get()) }
        #expect(error?.caseName == "timedOut")
        #expect(error?.description.contains("TLS handshake") == true, "\(String(describing: error))")
        #expect(monotonicSeconds() - start < 2)
    }

    @Test func anUnreadableCAFileIsAConfigurationErrorNamingTheField() {
        var configuration = UpstreamTesting.configuration(port: 443, scheme: "https")
        configuration.caFile = "/nonexistent/ca.pem"
        #expect { try UpstreamClient(configuration: configuration) } throws: { error in
            (error as? UpstreamConfigurationError)?.field == "caFile"
        }
    }
}
