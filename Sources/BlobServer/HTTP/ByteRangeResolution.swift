/// What a GET answers once its `Range` header meets the blob's size (RFC 9110 §14, §15.3.7,
/// §15.5.17). A pure value: the route turns it into a status, headers and `sendfile` calls.
///
/// | header                              | answer                                   |
/// |-------------------------------------|------------------------------------------|
/// | absent, `.ignored`                  | `.full` (200)                            |
/// | `.invalid` (`last < first`)         | `.unsatisfiable` (416, `bytes */size`)   |
/// | every spec unsatisfiable            | `.unsatisfiable` (416)                   |
/// | one satisfiable range after merging | `.single` (206, `Content-Range`)         |
/// | several                             | `.multiple` (206 `multipart/byteranges`) |
///
/// An empty blob is the one exception to "unsatisfiable means 416": RFC 9110 §14.1.1 calls a
/// nonzero suffix (`-n`) satisfiable there, yet no `Content-Range` can describe zero bytes,
/// so it is `.full`: 200 with an empty body. Every other spec on an empty blob is a 416.
public enum ByteRangeResolution: Hashable, Sendable {
    case full
    case single(ByteRange)
    /// Two or more disjoint, non-adjacent ranges.
    case multiple([ByteRange])
    case unsatisfiable

    /// Resolves `header` for a blob of `size` bytes. Pass nil when the request has no `Range`,
    /// is not a GET (only GET has ranges, RFC 9110 §14.2), or `If-Range` did not match.
    public init(_ header: RangeHeader?, size: UInt64) {
        switch header {
        case nil, .ignored:
            self = .full
        case .invalid:
            self = .unsatisfiable
        case .single(let spec):
            if let range = spec.resolved(size: size) {
                self = .single(range)
            } else {
                self = Self.unsatisfied(by: CollectionOfOne(spec), size: size)
            }
        case .multiple(let specs):
            let ranges = Self.coalesced(specs.compactMap { $0.resolved(size: size) })
            switch ranges.count {
            case 0: self = Self.unsatisfied(by: specs, size: size)
            case 1: self = .single(ranges[0])
            default: self = .multiple(ranges)
            }
        }
    }

    private static func unsatisfied(by specs: some Sequence<RangeSpec>, size: UInt64) -> Self {
        let wantsSuffixOfEmptyBlob = size == 0 && specs.contains { spec in
            if case .suffix(let length) = spec { length > 0 } else { false }
        }
        return wantsSuffixOfEmptyBlob ? .full : .unsatisfiable
    }

    /// Merges ranges that overlap or touch, so many small or repeated ranges never send a byte
    /// twice: the parts then total at most the blob's size plus their headers (RFC 9110 §14.2's
    /// denial-of-service note). Request order is kept when nothing merges (RFC 9110 §14.6);
    /// once something does, the result is in ascending order, which §15.3.7 allows.
    static func coalesced(_ ranges: [ByteRange]) -> [ByteRange] {
        guard ranges.count > 1 else { return ranges }
        var merged: [ByteRange] = []
        merged.reserveCapacity(ranges.count)
        for range in ranges.sorted(by: { $0.first < $1.first }) {
            // `last + 1` cannot overflow: `last < UInt64.max` for every ByteRange.
            if let previous = merged.last, range.first <= previous.last + 1 {
                merged[merged.count - 1] = ByteRange(first: previous.first, last: max(previous.last, range.last))
            } else {
                merged.append(range)
            }
        }
        return merged.count == ranges.count ? ranges : merged
    }
}
