/// A parsed `Range` request header value (RFC 9110 §14.2), not yet applied to a blob's size.
///
/// Which inputs give which answer:
/// - `.ignored` (serve 200 with the whole blob, as RFC 9110 §14.2 allows): a unit other than
///   `bytes`; any syntax this grammar does not produce (`bytes=`, `bytes=abc`, `bytes=--5`,
///   `bytes=1-2x`, spaces inside a spec, control bytes); more than `maxRanges` ranges.
/// - `.invalid` (416): well-formed, but some `first-last` has `last < first` (`bytes=500-0`).
///   RFC 9110 §14.2 lets a server reject such a header; clients that send it get a clear no.
/// - `.single`/`.multiple`: everything else, whether or not it is satisfiable; that depends
///   on the size (`ByteRangeResolution`). Numbers past `UInt64.max` saturate (see `RangeSpec`).
///
/// Empty list elements (`bytes=0-1,,2-3`, `bytes=,0-1`) are skipped, as RFC 9110 §5.6.1 asks;
/// a value with only empty elements is malformed (`range-set` is `1#range-spec`). OWS is
/// allowed around the commas and the whole value, nowhere else. Parsing stops at the range
/// past the cap, so a hostile list of thousands costs at most `maxRanges` specs of work.
public enum RangeHeader: Hashable, Sendable {
    case single(RangeSpec)
    /// Two to `maxRanges` specs, in request order.
    case multiple([RangeSpec])
    case invalid
    case ignored(IgnoredReason)

    public enum IgnoredReason: Hashable, Sendable {
        case unsupportedUnit
        case malformed
        case tooManyRanges
    }

    /// More ranges than this is a broken client or an attack (RFC 9110 §14.2); the header is
    /// ignored rather than refused, as nginx's `max_ranges` and Apache's `MaxRanges` do.
    public static let maxRanges = 100

    public init(parsing value: some StringProtocol) {
        var text = String(value)
        self = text.withUTF8 { RangeHeader(parsing: UnsafeRawBufferPointer($0)) }
    }

    public init(parsing value: UnsafeRawBufferPointer) {
        var scanner = RangeFieldScanner(value)
        scanner.skipWhitespace()
        let unitStart = scanner.index
        while let byte = scanner.peek, byte != UInt8(ascii: "=") { scanner.advance() }
        guard scanner.index > unitStart, !scanner.isAtEnd else {
            self = .ignored(.malformed)
            return
        }
        var unit = RangeFieldScanner(scanner.bytes(from: unitStart))
        guard unit.consumeCaseInsensitive("bytes"), unit.isAtEnd else {
            self = .ignored(.unsupportedUnit)
            return
        }
        scanner.advance()

        // The first spec stays out of the array so a single range allocates nothing.
        var head: RangeSpec?
        var tail: [RangeSpec] = []
        var count = 0
        var sawLastBeforeFirst = false
        while true {
            scanner.skipWhitespace()
            if scanner.isAtEnd { break }
            if scanner.consume(",") { continue }
            guard count < Self.maxRanges else {
                self = .ignored(.tooManyRanges)
                return
            }
            count += 1
            guard let spec = Self.spec(&scanner) else {
                self = .ignored(.malformed)
                return
            }
            // Keep parsing after `last < first`: a malformed spec anywhere still means 200.
            if case .closed(let first, let last) = spec, last < first {
                sawLastBeforeFirst = true
            } else if head == nil {
                head = spec
            } else {
                tail.append(spec)
            }
            scanner.skipWhitespace()
            guard scanner.isAtEnd || scanner.consume(",") else {
                self = .ignored(.malformed)
                return
            }
        }
        if sawLastBeforeFirst {
            self = .invalid
        } else if let head {
            if tail.isEmpty {
                self = .single(head)
            } else {
                tail.insert(head, at: 0)
                self = .multiple(tail)
            }
        } else {
            self = .ignored(.malformed)
        }
    }

    /// `int-range / suffix-range`; a `.closed` result may have `last < first` for the caller
    /// to judge.
    private static func spec(_ scanner: inout RangeFieldScanner) -> RangeSpec? {
        if scanner.consume("-") {
            return scanner.digits().map { .suffix(length: $0.value) }
        }
        guard let first = scanner.digits(), scanner.consume("-") else { return nil }
        guard let last = scanner.digits() else { return .from(first: first.value) }
        return .closed(first: first.value, last: last.value)
    }
}
