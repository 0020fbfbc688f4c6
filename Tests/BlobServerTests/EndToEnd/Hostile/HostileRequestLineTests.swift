import BlobServer
import BlobStore
import Testing

extension EndToEnd {
    /// Methods and versions the server does not speak. RFC 9110 §9.1: a method the server does
    /// not recognize is 501, one it knows but the resource does not take is 405 with `Allow`;
    /// methods are case-sensitive, so `get` is unknown. RFC 9112 §2.3: a well-formed version
    /// other than 1.0 and 1.1 is 505, anything else in its place is 400. The connection closes.
    @Suite("EndToEnd: hostile request lines", .serialized)
    struct HostileRequestLineTests {
        static func unknownMethods(_ digest: Digest) -> [HostileRow] {
            let methods = ["BREW", "PROPFIND", "get", "Get", "TRACE", "CONNECT", "LINK", "PURGE", "M-SEARCH", String(repeating: "X", count: 4000)]
            return methods.flatMap { method in
                ["/v2/", "/blobs/\(digest)", "/v2/a/blobs/uploads/", "/nowhere"].map { target in
                    .request("\(method.prefix(12)) \(target)", method, target, status: 501, code: "UNSUPPORTED")
                }
            }
        }

        static func methodsTheRouteDoesNotTake(_ digest: Digest) -> [(row: HostileRow, allow: String)] {
            [
                (.request("OPTIONS a CAS blob", "OPTIONS", "/blobs/\(digest)", status: 405, code: "UNSUPPORTED"), "GET, HEAD, PUT, DELETE"),
                (.request("PATCH a CAS blob", "PATCH", "/blobs/\(digest)", body: Array("x".utf8), status: 405, code: "UNSUPPORTED"),
                 "GET, HEAD, PUT, DELETE"),
                (.request("POST a blob", "POST", "/v2/a/blobs/\(digest)", status: 405, code: "UNSUPPORTED"), "GET, HEAD, DELETE"),
                (.request("PUT the base", "PUT", "/v2/", status: 405, code: "UNSUPPORTED"), "GET, HEAD"),
                (.request("DELETE metrics", "DELETE", "/metrics", status: 405, code: "UNSUPPORTED"), "GET, HEAD"),
                (.request("GET the uploads", "GET", "/v2/a/blobs/uploads/", status: 405, code: "UNSUPPORTED"), "POST"),
            ]
        }

        static func versions(_ digest: Digest) -> [HostileRow] {
            let line = "GET /blobs/\(digest) "
            let headers = "\r\nHost: x\r\n\r\n"
            return [
                HostileRow("HTTP/1.2", line + "HTTP/1.2" + headers, HTTPParseError.unsupportedVersion.status),
                HostileRow("HTTP/2.0", line + "HTTP/2.0" + headers, HTTPParseError.unsupportedVersion.status),
                HostileRow("HTTP/3.0", line + "HTTP/3.0" + headers, HTTPParseError.unsupportedVersion.status),
                HostileRow("HTTP/0.9", line + "HTTP/0.9" + headers, HTTPParseError.unsupportedVersion.status),
                HostileRow("HTTP/9.9", line + "HTTP/9.9" + headers, HTTPParseError.unsupportedVersion.status),
                HostileRow("HTTP/1.1x", line + "HTTP/1.1x" + headers, HTTPParseError.invalidVersion.status),
                HostileRow("HTTP/1", line + "HTTP/1" + headers, HTTPParseError.invalidVersion.status),
                HostileRow("HTTP/01.1", line + "HTTP/01.1" + headers, HTTPParseError.invalidVersion.status),
                HostileRow("HTTP/1.10", line + "HTTP/1.10" + headers, HTTPParseError.invalidVersion.status),
                HostileRow("lowercase http/1.1", line + "http/1.1" + headers, HTTPParseError.invalidVersion.status),
                HostileRow("HTTPS/1.1", line + "HTTPS/1.1" + headers, HTTPParseError.invalidVersion.status),
                HostileRow("a space after the version", line + "HTTP/1.1 " + headers, HTTPParseError.invalidVersion.status),
                HostileRow("no version: an HTTP/0.9 simple request", "GET /blobs/\(digest)\r\n\r\n", HTTPParseError.malformedRequestLine.status),
                HostileRow("the version first", "HTTP/1.1 GET /blobs/\(digest)" + headers, HTTPParseError.invalidMethod.status),
                HostileRow("two spaces in the request line", "GET  /blobs/\(digest) HTTP/1.1" + headers, 400),
                HostileRow("a method with a slash", "GE/T /blobs/\(digest) HTTP/1.1" + headers, HTTPParseError.invalidMethod.status),
                HostileRow("a fragment in the target", "GET /blobs/\(digest)#x HTTP/1.1" + headers, HTTPParseError.invalidTarget.status),
                HostileRow("a target that is not origin-form", "GET blobs/\(digest) HTTP/1.1" + headers, HTTPParseError.invalidTarget.status),
                HostileRow("CONNECT authority-form", "CONNECT 127.0.0.1:22 HTTP/1.1" + headers, HTTPParseError.invalidTarget.status),
                HostileRow("* with GET", "GET * HTTP/1.1" + headers, HTTPParseError.invalidTarget.status),
            ]
        }

        @Test func anUnknownMethodIs501() throws {
            let fixture = try HostileServer()
            for row in Self.unknownMethods(fixture.digest) {
                guard let answer = fixture.expectAnswered(row) else { continue }
                #expect(answer.header("Allow") == nil, "\(row): Allow is for 405")
            }
            fixture.expectNothingTouchedOutsideTheStore()
        }

        @Test func aKnownMethodTheRouteDoesNotTakeIs405WithAllow() throws {
            let fixture = try HostileServer()
            for (row, allow) in Self.methodsTheRouteDoesNotTake(fixture.digest) {
                #expect(fixture.expectAnswered(row)?.header("Allow") == allow, "\(row)")
            }
            fixture.expectNothingTouchedOutsideTheStore()
        }

        @Test func anUnknownOrMalformedVersionIs505Or400() throws {
            let fixture = try HostileServer()
            for row in Self.versions(fixture.digest) { fixture.expectAnswered(row) }
        }
    }
}
