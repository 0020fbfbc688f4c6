import BlobStore
import Glibc
import TestSupport
@testable import BlobServer

/// A handler for engine tests, independent of the registry: `GET|HEAD /blobs/<digest>` serves
/// a blob, `PUT /blobs/<digest>` stores the body verified, `POST /echo-length` counts the body,
/// `GET /slow` blocks a worker for 300 ms, anything else is 404.
final class EngineTestHandler: RequestHandling {
    let store: BlobStore

    init(store: BlobStore) { self.store = store }

    func handle(_ request: RequestContext) -> (RouteLabel, HandlerAction) {
        let head = request.head
        if head.path == "/slow" {
            return (.unknown, .blocking {
                usleep(300_000)
                return .respond(Response(status: 200, body: .bytes(Array("slow\n".utf8), contentType: "text/plain")))
            })
        }
        if head.path == "/echo-length" {
            return (.unknown, .receiveBody(CountingSink()))
        }
        guard head.path.hasPrefix("/blobs/"), let digest = try? Digest(parsing: head.path.dropFirst(7)) else {
            return (.unknown, .respond(Response(status: 404)))
        }
        switch head.method {
        case .get, .head:
            return (.casBlob, .respond(Response(status: 200, body: .blob(digest, contentType: "application/octet-stream", isManifest: false))))
        case .put:
            let store = self.store
            return (.casBlob, .blocking {
                do { return .receiveBody(WriterSink(writer: try store.makeWriter(expected: digest), digest: digest)) }
                catch { return .respond(Response(status: 500)) }
            })
        default:
            return (.casBlob, .respond(Response(status: 405)))
        }
    }

    func tick(now: UInt64) {}
}

/// Counts body bytes and answers with the count.
final class CountingSink: RequestBodySink, @unchecked Sendable {
    private var count = 0
    func write(_ bytes: UnsafeRawBufferPointer) -> Response? {
        count += bytes.count
        return nil
    }
    func finish() -> Response { Response(status: 200, body: .bytes(Array("\(count)".utf8), contentType: "text/plain")) }
    func abandon() {}
}

/// Streams into a verifying writer.
final class WriterSink: RequestBodySink, @unchecked Sendable {
    let writer: BlobWriter
    let digest: Digest
    init(writer: BlobWriter, digest: Digest) {
        self.writer = writer
        self.digest = digest
    }
    func write(_ bytes: UnsafeRawBufferPointer) -> Response? {
        do { try writer.write(bytes) } catch {
            writer.abandon()
            return Response(status: 507)
        }
        return nil
    }
    func finish() -> Response {
        do {
            _ = try writer.commit()
            return Response(status: 201)
        } catch {
            return Response(status: 400, body: .bytes(Array("\(error)".utf8), contentType: "text/plain"))
        }
    }
    func abandon() { writer.abandon() }
}

/// A store in a scratch directory and a server on an ephemeral loopback port, stopped at the end.
final class EngineHarness {
    let directory = StoreTestDirectory("engine")
    let store: BlobStore
    let server: HTTPServer
    var port: UInt16 { server.address.port }

    init(loops: Int = 2, configure: (inout ServerLimits) -> Void = { _ in }) throws {
        store = try BlobStore(directory: directory.data, options: testOptions())
        var limits = ServerLimits(budget: MemoryBudget(total: 128 << 20), loops: loops)
        configure(&limits)
        server = try HTTPServer(
            address: try SocketAddress(parsing: "127.0.0.1:0"), store: store, handler: EngineTestHandler(store: store),
            metrics: ServerMetrics(loops: loops), limits: limits, loops: loops, logger: Logger(level: .error))
        server.start()
    }

    deinit {
        server.stop(drainSeconds: 1)
        try? store.close()
    }

    func client() throws -> RawClient { try RawClient(port: port) }
}
