/// Where a response body ends, decided as its bytes arrive (RFC 9112 §6.3): a value with no
/// I/O, fed from the connection's receive buffer.
///
/// Contract: call `decode` with the unconsumed bytes; one event per call:
/// - `.data(range)`: `input[range]` is body; everything before `range.upperBound` is consumed.
/// - `.needMore`: all of `input` was consumed (framing, or nothing); read more.
/// - `.end(consumed:)`: the body ended within the first `consumed` bytes.
/// - `.broken(reason)`: chunked framing that makes no sense.
/// The input may be cut anywhere, including shorter than the bytes at hand, to take no more
/// body than a caller's buffer holds.
struct ResponseBodyDecoder: Sendable {
    enum Framing: Equatable, Sendable {
        /// No body: HEAD, 1xx, 204, 304.
        case none
        case length(UInt64)
        case chunked
        /// Read until the peer closes (no length, or a transfer coding other than chunked).
        case untilClose
    }

    enum Event: Equatable {
        case data(Range<Int>)
        case needMore
        case end(consumed: Int)
        case broken(String)
    }

    let framing: Framing
    private var remaining: UInt64
    private var chunked = ChunkedBodyDecoder()
    /// The body is complete: the next `decode` returns `.end`.
    private(set) var isComplete: Bool

    init(framing: Framing) {
        self.framing = framing
        switch framing {
        case .none:
            remaining = 0
            isComplete = true
        case .length(let length):
            remaining = length
            isComplete = length == 0
        case .chunked, .untilClose:
            remaining = 0
            isComplete = false
        }
    }

    /// Whether the peer closing the connection here ends the body cleanly.
    var endsAtClose: Bool { framing == .untilClose || isComplete }

    mutating func decode(_ input: UnsafeRawBufferPointer) -> Event {
        if isComplete { return .end(consumed: 0) }
        switch framing {
        case .none:
            return .end(consumed: 0)
        case .length:
            guard !input.isEmpty else { return .needMore }
            let take = Int(min(remaining, UInt64(input.count)))
            remaining -= UInt64(take)
            isComplete = remaining == 0
            return .data(0..<take)
        case .untilClose:
            return input.isEmpty ? .needMore : .data(0..<input.count)
        case .chunked:
            switch chunked.decode(input) {
            case .data(let range): return .data(range)
            case .needMore: return .needMore
            case .end(let consumed):
                isComplete = true
                return .end(consumed: consumed)
            case .error(let error): return .broken("chunked framing: \(error)")
            }
        }
    }
}
