/// Where a GET body that broke mid-way picks up again: which bytes of the representation the
/// body covers, so a new request can ask for the rest (`Range: bytes=N-`) and the answer can
/// be checked to continue exactly where the bytes stopped.
struct BodyResumePoint: Equatable, Sendable {
    /// The offset of the body's first byte in the representation.
    let first: UInt64
    /// The offset of its last byte when the body stops before the representation's end (a 206
    /// to a closed range); nil when it runs to the end.
    let last: UInt64?

    /// How a resumed request's answer continues the body.
    enum Acceptance: Equatable {
        /// A 206 starting where the body stopped: its bytes follow on.
        case follows
        /// A 200 with the whole representation: drop this many bytes first.
        case skip(UInt64)
        case reject(String)
    }

    /// The point for a response: a 200 covers everything; a 206 what its `Content-Range`
    /// says. Nil for any other response, which is not resumed.
    init?(status: Int, contentRange: String?) {
        switch status {
        case 200:
            first = 0
            last = nil
        case 206:
            guard let text = contentRange, case .bytes(let range, let length)? = ContentRange(parsing: text) else { return nil }
            first = range.first
            last = length.map { range.last == $0 - 1 } == true ? nil : range.last
        default:
            return nil
        }
    }

    /// The `Range` value asking for what follows the first `delivered` bytes.
    func rangeField(delivered: UInt64) -> String {
        "bytes=\(first + delivered)-" + (last.map(String.init) ?? "")
    }

    /// Whether an answer to `rangeField(delivered:)` continues the body.
    func accept(status: Int, contentRange: String?, delivered: UInt64) -> Acceptance {
        let next = first + delivered
        switch status {
        case 206:
            guard let text = contentRange, case .bytes(let range, _)? = ContentRange(parsing: text) else {
                return .reject("206 without a usable Content-Range")
            }
            guard range.first == next else { return .reject("206 for bytes \(range.first)- instead of \(next)-") }
            if let last, range.last != last { return .reject("206 ending at \(range.last) instead of \(last)") }
            return .follows
        case 200 where last == nil:
            return .skip(next)
        default:
            return .reject("the resumed request was answered \(status)")
        }
    }
}
