/// Evaluates `If-Match`, `If-None-Match` and `If-Range` against a blob's entity tag, in the
/// order RFC 9110 §13.2.2 gives. A blob's only validator is its strong ETag `"<digest>"`: it has
/// no `Last-Modified`, so `If-Modified-Since` and `If-Unmodified-Since` are ignored (§13.1.3,
/// §13.1.4) and an HTTP-date `If-Range` never matches.
///
/// Field values are passed as received, with repeated fields joined by commas (RFC 9110 §5.3).
/// Call this only when the request would otherwise succeed (not for a 404): §13.2.1 has the
/// server ignore preconditions then.
public enum ConditionalRequest {
    public enum Outcome: Hashable, Sendable {
        /// Go on, honouring any `Range`.
        case proceed
        /// Go on, but serve the whole blob with 200: `If-Range` did not match.
        case ignoreRange
        /// 304: `If-None-Match` matched on a GET or HEAD.
        case notModified
        /// 412: `If-Match` matched nothing, or `If-None-Match` matched on another method.
        case preconditionFailed
    }

    /// - Parameters:
    ///   - isGetOrHead: the method is GET or HEAD, where a matching `If-None-Match` means 304.
    ///   - hasRange: the request is a GET with a `Range` field; `If-Range` means nothing without.
    ///   - currentETag: the blob's ETag with its quotes (`"sha256:…"`), or nil when there is no
    ///     blob yet (a PUT that creates one).
    ///   - ifMatch, ifNoneMatch, ifRange: the field values, nil when absent.
    ///
    /// A malformed `If-Match` or `If-None-Match` list matches no tag: `If-Match` then fails
    /// (412, the safe side for writes) and `If-None-Match` passes. A malformed `If-Range` does
    /// not match, which costs only a full response.
    public static func evaluate(
        isGetOrHead: Bool, hasRange: Bool, currentETag: UnsafeRawBufferPointer?,
        ifMatch: UnsafeRawBufferPointer?, ifNoneMatch: UnsafeRawBufferPointer?, ifRange: UnsafeRawBufferPointer?
    ) -> Outcome {
        if let ifMatch, !matches(list: ifMatch, current: currentETag, weakly: false) {
            return .preconditionFailed
        }
        if let ifNoneMatch, matches(list: ifNoneMatch, current: currentETag, weakly: true) {
            return isGetOrHead ? .notModified : .preconditionFailed
        }
        if hasRange, let ifRange, !rangeCondition(ifRange, matches: currentETag) {
            return .ignoreRange
        }
        return .proceed
    }

    /// `evaluate` for `String` values; see there.
    public static func evaluate(
        isGetOrHead: Bool, hasRange: Bool, currentETag: String?,
        ifMatch: String? = nil, ifNoneMatch: String? = nil, ifRange: String? = nil
    ) -> Outcome {
        withBytes(of: currentETag) { current in
            withBytes(of: ifMatch) { ifMatch in
                withBytes(of: ifNoneMatch) { ifNoneMatch in
                    withBytes(of: ifRange) { ifRange in
                        evaluate(
                            isGetOrHead: isGetOrHead, hasRange: hasRange, currentETag: current,
                            ifMatch: ifMatch, ifNoneMatch: ifNoneMatch, ifRange: ifRange)
                    }
                }
            }
        }
    }

    private static func withBytes<R>(of text: String?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
        guard var text else { return body(nil) }
        return text.withUTF8 { body(UnsafeRawBufferPointer($0)) }
    }

    /// `"*" / #entity-tag` (RFC 9110 §13.1.1, §13.1.2). `*` matches any current blob. Strong
    /// comparison needs both tags strong; weak comparison ignores `W/`. Ours is always strong.
    static func matches(list: UnsafeRawBufferPointer, current: UnsafeRawBufferPointer?, weakly: Bool) -> Bool {
        var scanner = RangeFieldScanner(list)
        scanner.skipWhitespace()
        if scanner.consume("*") {
            scanner.skipWhitespace()
            return scanner.isAtEnd && current != nil
        }
        var matched = false
        var sawTag = false
        while true {
            scanner.skipWhitespace()
            if scanner.isAtEnd { break }
            if scanner.consume(",") { continue }
            guard let tag = entityTag(&scanner) else { return false }
            sawTag = true
            if let current, weakly || !tag.isWeak, equal(tag.opaque, current) {
                matched = true
            }
            scanner.skipWhitespace()
            guard scanner.isAtEnd || scanner.consume(",") else { return false }
        }
        return sawTag && matched
    }

    /// `If-Range = entity-tag / HTTP-date` (RFC 9110 §13.1.5): only a strong tag equal to ours.
    static func rangeCondition(_ value: UnsafeRawBufferPointer, matches current: UnsafeRawBufferPointer?) -> Bool {
        var scanner = RangeFieldScanner(value)
        scanner.skipWhitespace()
        guard let current, let tag = entityTag(&scanner), !tag.isWeak else { return false }
        scanner.skipWhitespace()
        return scanner.isAtEnd && equal(tag.opaque, current)
    }

    /// `entity-tag = [ "W/" ] opaque-tag`, `opaque-tag = DQUOTE *etagc DQUOTE`; `opaque` keeps
    /// the quotes, as the current ETag does.
    private static func entityTag(_ scanner: inout RangeFieldScanner) -> (isWeak: Bool, opaque: UnsafeRawBufferPointer)? {
        // `W/` is case-sensitive (%s"W/").
        let isWeak = scanner.consume("W")
        if isWeak && !scanner.consume("/") { return nil }
        let start = scanner.index
        guard scanner.consume("\"") else { return nil }
        while let byte = scanner.peek, isEntityTagCharacter(byte) { scanner.advance() }
        guard scanner.consume("\"") else { return nil }
        return (isWeak, scanner.bytes(from: start))
    }

    /// `etagc = %x21 / %x23-7E / obs-text`
    private static func isEntityTagCharacter(_ byte: UInt8) -> Bool {
        byte == 0x21 || (byte >= 0x23 && byte != 0x7F)
    }

    private static func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        a.count == b.count && a.elementsEqual(b)
    }
}
