import BlobStore
import Dispatch
import Glibc
import Synchronization
import TestSupport
import Testing
@testable import BlobServer

/// What a test request came back with, after every `.blocking` step and body was played out.
struct TestResponse {
    let route: RouteLabel
    let response: Response

    var status: Int { response.status }

    /// The first field named `name` (exact spelling, as handlers write them).
    func header(_ name: String) -> String? {
        response.headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    func headers(_ name: String) -> [String] {
        response.headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    var bodyText: String {
        guard case .bytes(let bytes, _) = response.body else { return "" }
        return String(decoding: bytes, as: UTF8.self)
    }

    var contentType: String? {
        switch response.body {
        case .bytes(_, let type), .blob(_, let type, _), .growing(_, let type), .announced(_, let type): type
        case .empty: nil
        }
    }

    /// The blob the connection would serve, if the answer is one.
    var blob: (digest: Digest, contentType: String, isManifest: Bool)? {
        guard case .blob(let digest, let type, let isManifest) = response.body else { return nil }
        return (digest, type, isManifest)
    }

    /// The OCI error code of an error body.
    var errorCode: String? {
        guard case .bytes(let bytes, _) = response.body, let json = try? JSONParser.parse(bytes),
              case .array(let errors)? = json["errors"], let first = errors.first
        else { return nil }
        return first["code"]?.stringValue
    }

    var json: JSONValue? {
        guard case .bytes(let bytes, _) = response.body else { return nil }
        return try? JSONParser.parse(bytes)
    }
}

/// A store in a fresh directory and a `RegistryHandler` on it, driven without sockets: requests
/// are built as the parser would, and the handler's actions are carried out synchronously —
/// blocking work run in place, bodies fed to sinks in chunks, as the engine would.
final class RegistryFixture {
    let directory: StoreTestDirectory
    let store: BlobStore
    let metrics = ServerMetrics(loops: 1)
    private(set) var handler: RegistryHandler
    let configuration: ServerConfiguration
    /// What requests carry as `RequestContext.now`.
    var now: UInt64 = 1000

    init(
        configuration: ServerConfiguration = .defaults, uploadIdleSeconds: UInt64 = 60, maxUploadSessions: Int = 16,
        options: BlobStoreOptions = testOptions()
    ) throws {
        directory = StoreTestDirectory("registry")
        self.configuration = configuration
        store = try BlobStore(directory: directory.data, options: options)
        handler = try RegistryHandler(
            store: store, configuration: configuration, metrics: metrics,
            uploadIdleSeconds: uploadIdleSeconds, maxUploadSessions: maxUploadSessions)
    }

    deinit { try? store.close() }

    /// A new handler on the same store, as after a restart of the server.
    func recreateHandler() throws {
        handler = try RegistryHandler(store: store, configuration: configuration, metrics: metrics)
    }

    /// Builds a request head. `target` may hold a query (`/v2/x/tags/list?n=1`).
    func head(
        _ method: HTTPMethod, _ target: String, headers: [(String, String)] = [], body: [UInt8]? = nil, chunked: Bool = false
    ) -> HTTPRequestHead {
        var path = target
        var query: String? = nil
        if let mark = target.firstIndex(of: "?") {
            path = String(target[..<mark])
            query = String(target[target.index(after: mark)...])
        }
        let lines = headers.map { "\($0.0): \($0.1)\r\n" }.joined()
        let fields = Array(lines.utf8).withUnsafeBytes { HTTPHeaderFields(validatedLines: $0, count: headers.count) }
        let framing: HTTPRequestHead.BodyFraming = chunked ? .chunked : body.map { .contentLength(UInt64($0.count)) } ?? .none
        return HTTPRequestHead(method: method, path: path, query: query, body: framing, headers: fields)
    }

    /// Sends a request and plays its actions out. The body goes to a sink in `chunkSize` pieces;
    /// with `cutAfter`, the client "goes away" after that many bytes and the sink is abandoned.
    @discardableResult
    func send(
        _ method: HTTPMethod, _ target: String, headers: [(String, String)] = [], body: [UInt8]? = nil,
        chunked: Bool = false, chunkSize: Int = 1000, loopback: Bool = true, cutAfter: Int? = nil
    ) -> TestResponse {
        let context = RequestContext(
            head: head(method, target, headers: headers, body: body, chunked: chunked), listenerIsLoopback: loopback, now: now)
        let (route, action) = handler.handle(context)
        return TestResponse(route: route, response: Self.play(action, body: body ?? [], chunkSize: chunkSize, cutAfter: cutAfter))
    }

    /// Hands a request to the handler without playing out its action.
    func start(_ method: HTTPMethod, _ target: String, headers: [(String, String)] = [], body: [UInt8]? = nil) -> HandlerAction {
        let context = RequestContext(head: head(method, target, headers: headers, body: body), listenerIsLoopback: true, now: now)
        return handler.handle(context).1
    }

    static func play(_ action: HandlerAction, body: [UInt8], chunkSize: Int, cutAfter: Int? = nil) -> Response {
        switch action {
        case .respond(let response):
            return response
        case .blocking(let work):
            return play(work(), body: body, chunkSize: chunkSize, cutAfter: cutAfter)
        case .receiveBody(let sink):
            var offset = 0
            while offset < body.count {
                if let cutAfter, offset >= cutAfter {
                    sink.abandon()
                    return Response(status: 499)
                }
                let end = min(offset + chunkSize, body.count)
                if let answer = body[offset..<end].withUnsafeBytes({ sink.write($0) }) { return answer }
                offset = end
            }
            return sink.finish()
        case .awaiting(let start):
            let next = Mutex<HandlerAction?>(nil)
            let done = DispatchSemaphore(value: 0)
            start(ActionCompletion { action in
                next.withLock { $0 = action }
                done.signal()
            })
            done.wait()
            return play(next.withLock { $0 }!, body: body, chunkSize: chunkSize, cutAfter: cutAfter)
        }
    }

    /// The bytes of a stored blob.
    func storedBytes(_ digest: Digest) throws -> [UInt8]? {
        guard let blob = try store.open(digest) else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(blob.size))
        var done = 0
        while done < bytes.count {
            let count = try bytes.withUnsafeMutableBytes { buffer in
                try blob.descriptor.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]), at: UInt64(done))
            }
            if count == 0 { break }
            done += count
        }
        return bytes
    }

    /// Files left in the store's temporaries directory and the registry's.
    var temporaryFiles: [String] {
        directoryEntries(directory.data + "/tmp") + directoryEntries(directory.data + "/registry/tmp")
    }
}

/// A manifest body: an image manifest with a config media type, optional subject and annotations.
func imageManifest(
    config: String = "application/vnd.oci.image.config.v1+json", layers: [Digest] = [], subject: Digest? = nil,
    artifactType: String? = nil, annotations: [String: String] = [:], mediaType: String? = "application/vnd.oci.image.manifest.v1+json"
) -> [UInt8] {
    let empty = StreamingHasher.digest(of: [UInt8]())
    var text = #"{"schemaVersion":2"#
    if let mediaType { text += #","mediaType":"\#(mediaType)""# }
    if let artifactType { text += #","artifactType":"\#(artifactType)""# }
    text += #","config":{"mediaType":"\#(config)","digest":"\#(empty)","size":0}"#
    text += #","layers":["# + layers.map { #"{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"\#($0)","size":1}"# }.joined(separator: ",") + "]"
    if let subject { text += #","subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"\#(subject)","size":1}"# }
    if !annotations.isEmpty {
        text += #","annotations":{"# + annotations.sorted { $0.key < $1.key }.map { #""\#($0.key)":"\#($0.value)""# }.joined(separator: ",") + "}"
    }
    return Array((text + "}").utf8)
}
