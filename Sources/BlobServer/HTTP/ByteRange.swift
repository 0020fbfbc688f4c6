/// An inclusive, non-empty span of byte positions `first...last` within one blob: what a 206
/// part carries and what `sendfile` sends (offset `first`, `count` bytes).
///
/// `last < UInt64.max`, so `count` never overflows. Ranges resolved against a size always hold
/// that, since `last <= size - 1`.
public struct ByteRange: Hashable, Sendable, CustomStringConvertible {
    public let first: UInt64
    public let last: UInt64

    /// - Precondition: `first <= last < UInt64.max`.
    public init(first: UInt64, last: UInt64) {
        precondition(first <= last && last < .max, "ByteRange needs first <= last < UInt64.max")
        self.first = first
        self.last = last
    }

    /// The number of bytes in the range, at least 1.
    public var count: UInt64 { last - first + 1 }

    public var description: String { "\(first)-\(last)" }
}
