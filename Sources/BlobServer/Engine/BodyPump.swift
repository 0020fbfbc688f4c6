import BlobStore
import CBlobSys
import Glibc

/// Moves a request body from a socket into a `RequestBodySink`, on a worker thread: reads
/// until the socket has nothing more (EAGAIN) or the body ends, decoding chunked framing, and
/// writes what it read to the sink. It never waits for the client: the connection's loop
/// waits for readability and runs the pump again.
///
/// A value handed between the loop and workers; at any moment one thread holds it, and only
/// that thread touches the socket.
struct BodyPump: Sendable {
    enum Framing: Sendable {
        /// Bytes of a Content-Length body still to come. The pump never reads past them, so a
        /// pipelined request behind the body stays in the socket.
        case length(UInt64)
        case chunked(ChunkedBodyDecoder)
    }

    enum Outcome: Sendable {
        /// The socket has no more bytes for now; run the pump again once it is readable.
        case needInput(BodyPump)
        /// The body ended and the sink answered. `leftover` is what was read past a chunked
        /// body's end: the start of the next request.
        case finished(Response, leftover: [UInt8], received: UInt64)
        /// The sink refused a chunk and answered; the connection must close after answering.
        case refused(Response)
        /// The body is malformed (bad chunk framing, too large): answer `status` and close.
        case malformed(status: Int)
        /// The client closed or reset the connection before the body ended.
        case disconnected
    }

    let socket: Int32
    let sink: any RequestBodySink
    private(set) var framing: Framing
    /// Body bytes handed to the sink so far.
    private(set) var received: UInt64 = 0

    init(socket: Int32, sink: any RequestBodySink, framing: Framing) {
        self.socket = socket
        self.sink = sink
        self.framing = framing
    }

    /// Feeds `initial` (body bytes that came with the head), then reads the socket. Calls the
    /// sink's `finish` or `abandon` when the body ends or fails; after `.refused` neither.
    consuming func run(initial: [UInt8], scratch: UnsafeMutableRawBufferPointer) -> Outcome {
        if !initial.isEmpty {
            let outcome = initial.withUnsafeBytes { consume($0) }
            if let outcome { return outcome }
        }
        while true {
            if case .length(0) = framing { return .finished(sink.finish(), leftover: [], received: received) }
            var want = scratch.count
            if case .length(let remaining) = framing { want = Int(min(UInt64(want), remaining)) }
            let count = read(socket, scratch.baseAddress, want)
            if count < 0 {
                switch cbs_errno() {
                case EINTR: continue
                case EAGAIN: return .needInput(self)
                default:
                    sink.abandon()
                    return .disconnected
                }
            }
            if count == 0 {
                sink.abandon()
                return .disconnected
            }
            if let outcome = consume(UnsafeRawBufferPointer(rebasing: scratch[..<count])) { return outcome }
        }
    }

    /// Hands `bytes` to the sink through the framing; an outcome when the body ended or failed.
    private mutating func consume(_ bytes: UnsafeRawBufferPointer) -> Outcome? {
        switch framing {
        case .length(let remaining):
            let take = Int(min(UInt64(bytes.count), remaining))
            framing = .length(remaining - UInt64(take))
            if let refusal = deliver(UnsafeRawBufferPointer(rebasing: bytes[..<take])) { return refusal }
            if case .length(0) = framing { return .finished(sink.finish(), leftover: Array(bytes[take...]), received: received) }
            return nil
        case .chunked(var decoder):
            var rest = bytes
            while true {
                let event = decoder.decode(rest)
                framing = .chunked(decoder)
                switch event {
                case .data(let range):
                    if let refusal = deliver(UnsafeRawBufferPointer(rebasing: rest[range])) { return refusal }
                    rest = UnsafeRawBufferPointer(rebasing: rest[range.upperBound...])
                case .needMore:
                    return nil
                case .end(let consumed):
                    return .finished(sink.finish(), leftover: Array(rest[consumed...]), received: received)
                case .error(let error):
                    sink.abandon()
                    return .malformed(status: error.status)
                }
            }
        }
    }

    private mutating func deliver(_ bytes: UnsafeRawBufferPointer) -> Outcome? {
        guard !bytes.isEmpty else { return nil }
        received += UInt64(bytes.count)
        return sink.write(bytes).map { .refused($0) }
    }
}
