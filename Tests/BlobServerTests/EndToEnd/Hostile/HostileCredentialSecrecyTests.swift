import BlobStore
import Glibc
import Testing
import TestSupport
@testable import BlobServer

extension EndToEnd {
    /// Credentials never show: a real `blobcache serve` logging at debug, with `auth_token`,
    /// `auth_basic` and `upstream_auth` for two scripted upstreams (one answers with a Bearer
    /// challenge and a token endpoint that takes Basic, the other with a Basic challenge), gets
    /// pushes with right and wrong credentials, credentials in the target's userinfo and query,
    /// and pulls that fill through both upstreams, one of them refused. Then no secret, in any
    /// form a client or upstream sends it, is in the log, in any answer, or in any request the
    /// upstreams received except the ones each upstream is owed.
    @Suite("EndToEnd: hostile credential secrecy", .serialized)
    struct HostileCredentialSecrecyTests {
        static let clientToken = "client-tok-8d2f41"
        static let clientPassword = "client-pw-7c3e90"
        static let wrongToken = "wrong-tok-1a5b77"
        static let wrongPassword = "wrong-pw-4e6d02"
        static let userinfoPassword = "userinfo-pw-9b0c13"
        static let queryToken = "query-tok-2f8a66"
        static let bearerUpstreamPassword = "bearer-up-pw-5d9e21"
        static let bearerUpstreamToken = "bearer-up-tok-3c7f48"
        static let basicUpstreamPassword = "basic-up-pw-6a1b85"

        /// Each secret as it could leak: itself, and inside the base64 of the pair it belongs to.
        static let secrets: [String] = [
            clientToken, clientPassword, basic("client:\(clientPassword)"),
            wrongToken, wrongPassword, basic("client:\(wrongPassword)"),
            userinfoPassword, queryToken,
            bearerUpstreamPassword, basic("puller:\(bearerUpstreamPassword)"), bearerUpstreamToken,
            basicUpstreamPassword, basic("fetcher:\(basicUpstreamPassword)"),
        ]

        static func basic(_ pair: String) -> String { Base64.encode(Array(pair.utf8)) }

        @Test func noSecretReachesTheLogOrAnAnswer() throws {
            let directory = StoreTestDirectory("e2e-secrecy")
            let onBearerUpstream = pseudoRandomBytes(count: 3000, seed: 81)
            let onBasicUpstream = pseudoRandomBytes(count: 3000, seed: 82)
            let refused = pseudoRandomBytes(count: 3000, seed: 83)

            let tokenEndpoint = try FakeHTTPServer { request in
                guard request.header("Authorization") == "Basic " + Self.basic("puller:\(Self.bearerUpstreamPassword)") else {
                    return .text("no", status: 401)
                }
                return .text(#"{"token":"\#(Self.bearerUpstreamToken)","expires_in":300}"#)
            }
            defer { tokenEndpoint.stop() }
            let challenge = #"Bearer realm="http://127.0.0.1:\#(tokenEndpoint.port)/token",service="fake""#
            let bearerUpstream = try FakeHTTPServer { request in
                // The refused repository turns even the right token away.
                guard request.header("Authorization") == "Bearer \(Self.bearerUpstreamToken)", !request.target.contains("/refused/") else {
                    return .text("{}", status: 401, headers: [("WWW-Authenticate", challenge)])
                }
                return request.target.hasSuffix("\(Digest.of(onBearerUpstream))") ? FakeHTTPServer.Reply(body: onBearerUpstream) : .text("{}", status: 404)
            }
            defer { bearerUpstream.stop() }
            let basicUpstream = try FakeHTTPServer { request in
                guard request.header("Authorization") == "Basic " + Self.basic("fetcher:\(Self.basicUpstreamPassword)") else {
                    return .text("{}", status: 401, headers: [("WWW-Authenticate", #"Basic realm="fake""#)])
                }
                return request.target.hasSuffix("\(Digest.of(onBasicUpstream))") ? FakeHTTPServer.Reply(body: onBasicUpstream) : .text("{}", status: 404)
            }
            defer { basicUpstream.stop() }

            try Files.write(Self.bearerUpstreamPassword + "\n", to: directory.file("bearer-password"))
            try Files.write(Self.basicUpstreamPassword + "\n", to: directory.file("basic-password"))
            let bearerHost = "127.0.0.1:\(bearerUpstream.port)"
            try Files.write("""
                {"auth_token": ["\(Self.clientToken)"], "auth_basic": ["client:\(Self.clientPassword)"], "mirror_push": true,
                 "upstream": ["http://\(bearerHost)", "basic.test=http://127.0.0.1:\(basicUpstream.port)"],
                 "upstream_auth": ["\(bearerHost)=puller:file:\(directory.file("bearer-password"))",
                                   "basic.test=fetcher:file:\(directory.file("basic-password"))"]}
                """, to: directory.file("blobcache.json"))
            let server = try ServerProcess(
                dataDirectory: directory.data, arguments: ["--config", directory.file("blobcache.json")], logFile: directory.file("server.log"),
                logLevel: "debug")

            var answers: [HostileExchange] = []
            func send(_ row: HostileRow) throws {
                let answer = try HostileExchange(row.request, host: server.host, port: server.port, deadlineSeconds: 10)
                #expect(answer.status == row.status, "\(row): \(answer.status.map(String.init) ?? "no answer") \(answer.text)")
                answers.append(answer)
            }
            let fresh = Array("pushed with a credential\n".utf8)
            let freshDigest = Digest.of(fresh)
            let clientPair = "Authorization: Basic \(Self.basic("client:\(Self.clientPassword)"))"
            for row: HostileRow in [
                .request("push with the token", "POST", "/v2/a/blobs/uploads/", headers: ["Authorization: Bearer \(Self.clientToken)"], status: 202),
                .request("push with the pair", "PUT", "/blobs/\(freshDigest)", headers: [clientPair], body: fresh, status: 201),
                .request("push with a wrong token", "POST", "/v2/a/blobs/uploads/", headers: ["Authorization: Bearer \(Self.wrongToken)"],
                         status: 401, code: "UNAUTHORIZED"),
                .request("push with a wrong password", "POST", "/v2/a/blobs/uploads/",
                         headers: ["Authorization: Basic \(Self.basic("client:\(Self.wrongPassword)"))"], status: 401, code: "UNAUTHORIZED"),
                .request("API check with a wrong token", "GET", "/v2/", headers: ["Authorization: Bearer \(Self.wrongToken)"], status: 401),
                .request("push with credentials in the userinfo", "POST",
                         "http://client:\(Self.userinfoPassword)@\(server.authority)/v2/a/blobs/uploads/", status: 401, code: "UNAUTHORIZED"),
                .request("push with a token in the query", "POST", "/v2/a/blobs/uploads/?access_token=\(Self.queryToken)", status: 401),
                .request("pull through the Bearer upstream", "GET", "/v2/lib/app/blobs/\(Digest.of(onBearerUpstream))",
                         headers: ["Authorization: Bearer \(Self.clientToken)"], status: 200),
                .request("pull through the Basic upstream", "GET", "/v2/lib/app/blobs/\(Digest.of(onBasicUpstream))?ns=basic.test",
                         headers: [clientPair], status: 200),
                .request("pull refused upstream", "GET", "/v2/lib/refused/blobs/\(Digest.of(refused))", status: 502),
            ] {
                try send(row)
            }
            #expect(answers[7].body == onBearerUpstream && answers[8].body == onBasicUpstream, "the fills did not bring the blobs")
            #expect(server.stop() == .exited(0))

            // The secrets did flow where they belong, so their absence elsewhere means something.
            #expect(tokenEndpoint.requests.contains { $0.header("Authorization") == "Basic " + Self.basic("puller:\(Self.bearerUpstreamPassword)") })
            #expect(bearerUpstream.requests.contains { $0.header("Authorization") == "Bearer \(Self.bearerUpstreamToken)" })
            #expect(basicUpstream.requests.contains { $0.header("Authorization") == "Basic " + Self.basic("fetcher:\(Self.basicUpstreamPassword)") })
            let log = server.log
            #expect(log.contains("fetching an upstream token"), "the log is not at debug level:\n\(log)")
            #expect(log.split(separator: "\n").filter { $0.contains(#""msg":"request""#) }.count >= answers.count, "requests are not logged:\n\(log)")

            for secret in Self.secrets {
                #expect(!log.contains(secret), "the log holds \(secret):\n\(log)")
                for (index, answer) in answers.enumerated() {
                    #expect(!String(decoding: answer.bytes, as: UTF8.self).contains(secret), "answer \(index) holds \(secret)")
                }
            }
            // Each upstream gets its own credential and nothing else: never a client's, never the
            // other upstream's.
            let owed: [(String, FakeHTTPServer, [String])] = [
                ("the token endpoint", tokenEndpoint, [Self.bearerUpstreamPassword, Self.basic("puller:\(Self.bearerUpstreamPassword)")]),
                ("the Bearer upstream", bearerUpstream, [Self.bearerUpstreamToken]),
                ("the Basic upstream", basicUpstream, [Self.basicUpstreamPassword, Self.basic("fetcher:\(Self.basicUpstreamPassword)")]),
            ]
            for (name, upstream, theirs) in owed {
                let seen = upstream.requests.map { request in request.target + "\n" + request.headers.map { "\($0.name): \($0.value)" }.joined(separator: "\n") }
                for secret in Self.secrets where !theirs.contains(secret) {
                    #expect(!seen.contains { $0.contains(secret) }, "\(name) received \(secret)")
                }
            }
        }
    }
}
