import BlobStore

/// Streams a request body into a new blob of the store (CAS `PUT`, monolithic `POST`, manifest
/// `PUT`), hashing every byte on the way; `complete` decides what becomes of it.
///
/// The writer is made on the first call, which runs on a worker: making it opens a file. A
/// body over `limit` is refused as soon as it passes the limit, and nothing is kept.
///
/// `@unchecked Sendable`: the connection hands the sink from call to call, one at a time, in
/// order (see `RequestBodySink`), so its state is never touched by two threads at once.
final class BlobBodySink: RequestBodySink, @unchecked Sendable {
    /// A cap on the body, and the answer for a body past it.
    struct Limit {
        let bytes: UInt64
        let refusal: Response
    }

    private let store: BlobStore
    private let expected: Digest?
    private let expectedSize: UInt64?
    private let limit: Limit?
    /// Called with the writer once the whole body is in it, on a worker. It must commit or
    /// abandon the writer, and returns the answer.
    private let complete: @Sendable (BlobWriter) -> Response
    private var writer: BlobWriter?
    private var received: UInt64 = 0

    /// `expected` is checked at commit (and picks the hash); `expectedSize` (a Content-Length)
    /// makes room in the store before the first byte.
    init(
        store: BlobStore, expected: Digest?, expectedSize: UInt64?, limit: Limit? = nil,
        complete: @escaping @Sendable (BlobWriter) -> Response
    ) {
        self.store = store
        self.expected = expected
        self.expectedSize = expectedSize
        self.limit = limit
        self.complete = complete
    }

    func write(_ bytes: UnsafeRawBufferPointer) -> Response? {
        received += UInt64(bytes.count)
        if let limit, received > limit.bytes {
            abandon()
            return limit.refusal
        }
        do {
            try openWriter().write(bytes)
            return nil
        } catch {
            return .storeFailure(error)
        }
    }

    func finish() -> Response {
        do {
            return complete(try openWriter())
        } catch {
            return .storeFailure(error)
        }
    }

    func abandon() {
        writer?.abandon()
    }

    private func openWriter() throws(BlobStoreError) -> BlobWriter {
        if let writer { return writer }
        let made = try store.makeWriter(expected: expected, expectedSize: expectedSize)
        writer = made
        return made
    }
}
