/// One `range-spec` of a `Range: bytes=…` header (RFC 9110 §14.1.1), before it meets a size.
///
/// Positions too large for `UInt64` are held as `UInt64.max`. No blob is that large, so the
/// saturated value resolves exactly as the real one would: a first position past the end,
/// a last position clipped, a suffix covering the whole blob.
public enum RangeSpec: Hashable, Sendable {
    /// `first-last`, with `first <= last`.
    case closed(first: UInt64, last: UInt64)
    /// `first-`: from `first` to the end.
    case from(first: UInt64)
    /// `-length`: the last `length` bytes.
    case suffix(length: UInt64)

    /// The bytes this spec selects in a blob of `size` bytes, or nil when it is unsatisfiable
    /// there: a first position at or past the end, a `-0` suffix, or any spec on an empty blob.
    public func resolved(size: UInt64) -> ByteRange? {
        switch self {
        case .closed(let first, let last):
            guard first < size else { return nil }
            return ByteRange(first: first, last: min(last, size - 1))
        case .from(let first):
            guard first < size else { return nil }
            return ByteRange(first: first, last: size - 1)
        case .suffix(let length):
            guard length > 0, size > 0 else { return nil }
            return ByteRange(first: size - min(length, size), last: size - 1)
        }
    }
}
