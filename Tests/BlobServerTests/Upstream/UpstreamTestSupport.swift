import Glibc
import TestSupport
@testable import BlobServer

/// Shared pieces of the upstream client's tests.
enum UpstreamTesting {
    typealias Reply = FakeHTTPServer.Reply

    /// A configuration for `http://host:port` with short timeouts and backoff, and an empty
    /// environment (no proxy), then `configure`.
    static func configuration(
        port: UInt16, host: String = "127.0.0.1", scheme: String = "http",
        _ configure: (inout UpstreamClient.Configuration) -> Void = { _ in }
    ) -> UpstreamClient.Configuration {
        var configuration = UpstreamClient.Configuration(baseURL: "\(scheme)://\(host):\(port)", environment: [:])
        configuration.connectTimeoutSeconds = 2
        configuration.firstByteTimeoutSeconds = 2
        configuration.idleTimeoutSeconds = 2
        configuration.retryBackoffSeconds = 0.01
        configure(&configuration)
        return configuration
    }

    static func client(
        port: UInt16, host: String = "127.0.0.1", counters: UpstreamCounters = UpstreamCounters(),
        _ configure: (inout UpstreamClient.Configuration) -> Void = { _ in }
    ) throws -> UpstreamClient {
        try UpstreamClient(configuration: configuration(port: port, host: host, configure), counters: counters)
    }

    static func get(_ path: String = "/v2/library/alpine/blobs/sha256:aa", repository: String = "library/alpine",
                    headers: [(name: String, value: String)] = []) -> UpstreamRequest {
        UpstreamRequest(method: .get, path: path, repository: repository, headers: headers)
    }

    /// Reads the whole body with a buffer of `bufferSize` bytes, then finishes the response.
    static func body(of response: UpstreamResponse, bufferSize: Int = 10_000) throws -> [UInt8] {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 1)
        defer { buffer.deallocate() }
        var body: [UInt8] = []
        while true {
            let count = try response.read(into: buffer)
            if count == 0 { break }
            body += buffer[..<count]
        }
        response.finish()
        return body
    }

    /// Sends `request` and reads the whole body.
    static func fetch(_ client: UpstreamClient, _ request: UpstreamRequest = get()) throws -> (status: Int, body: [UInt8]) {
        let response = try client.send(request)
        return (response.status, try body(of: response))
    }

    /// The error `body` throws.
    static func error(of body: () throws -> Void) -> UpstreamError? {
        do {
            try body()
            return nil
        } catch let error as UpstreamError {
            return error
        } catch {
            return .malformed("unexpected error type: \(error)")
        }
    }

    /// A handler serving `blob` with ranges (`bytes=N-` and `bytes=N-M`), a request without
    /// `Range` answered in full but ending as `firstEnd`: a lying upstream whose whole answers
    /// break, and whose ranged answers behave.
    static func rangeServer(_ blob: [UInt8], firstEnd: Reply.BodyEnd, framing: Reply.Framing = .contentLength) -> FakeHTTPServer.Handler {
        { request in
            guard let range = request.header("Range") else {
                return Reply(body: blob, framing: framing, bodyEnd: firstEnd)
            }
            let bounds = range.dropFirst("bytes=".count).split(separator: "-", omittingEmptySubsequences: false)
            let first = Int(bounds[0])!
            let last = bounds.count > 1 && !bounds[1].isEmpty ? Int(bounds[1])! : blob.count - 1
            return Reply(status: 206, headers: [("Content-Range", "bytes \(first)-\(last)/\(blob.count)")],
                         body: Array(blob[first...last]), framing: framing)
        }
    }
}

extension UpstreamError {
    /// The case's name, for comparing errors whose messages vary.
    var caseName: String {
        switch self {
        case .unreachable: "unreachable"
        case .timedOut: "timedOut"
        case .malformed: "malformed"
        case .unauthorized: "unauthorized"
        case .unavailable: "unavailable"
        case .bodyBroken: "bodyBroken"
        }
    }
}
