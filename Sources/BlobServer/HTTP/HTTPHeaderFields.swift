/// The header fields of one request, in the order received, stored in one allocation.
///
/// The storage is a single byte array: first an index of `count` entries, each four
/// `UInt32` (name offset, name length, value offset, value length), then the header lines
/// copied as received. Building it costs one allocation per request, none per field, and
/// lookups compare ASCII bytes without making Strings. Values are stored without the OWS
/// around them. Immutable once built, so it may cross threads.
public struct HTTPHeaderFields: RandomAccessCollection, Hashable, Sendable {
    private static let entryBytes = 4 * MemoryLayout<UInt32>.size

    private let storage: [UInt8]
    /// The number of fields, repeated names counted each time.
    public let count: Int

    /// No fields.
    public init() {
        storage = []
        count = 0
    }

    /// Indexes `lines`: `count` header lines, each ending in CRLF, already validated by
    /// `HTTPHeaderLine`, so here they are only split.
    init(validatedLines lines: UnsafeRawBufferPointer, count: Int) {
        let indexBytes = count * Self.entryBytes
        storage = [UInt8](unsafeUninitializedCapacity: indexBytes + lines.count) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            if let base = lines.baseAddress, !lines.isEmpty {
                raw.baseAddress!.advanced(by: indexBytes).copyMemory(from: base, byteCount: lines.count)
            }
            var lineStart = 0
            for entry in 0..<count {
                let lf = HTTPParseSyntax.firstIndex(of: HTTPParseSyntax.lf, in: lines, from: lineStart)!
                let colon = HTTPParseSyntax.firstIndex(of: HTTPParseSyntax.colon, in: lines, from: lineStart)!
                var valueStart = colon + 1
                var valueEnd = lf - 1
                while valueStart < valueEnd && HTTPParseSyntax.isWhitespace(lines[valueStart]) { valueStart += 1 }
                while valueEnd > valueStart && HTTPParseSyntax.isWhitespace(lines[valueEnd - 1]) { valueEnd -= 1 }
                let at = entry * Self.entryBytes
                raw.storeBytes(of: UInt32(indexBytes + lineStart), toByteOffset: at, as: UInt32.self)
                raw.storeBytes(of: UInt32(colon - lineStart), toByteOffset: at + 4, as: UInt32.self)
                raw.storeBytes(of: UInt32(indexBytes + valueStart), toByteOffset: at + 8, as: UInt32.self)
                raw.storeBytes(of: UInt32(valueEnd - valueStart), toByteOffset: at + 12, as: UInt32.self)
                lineStart = lf + 1
            }
            initialized = indexBytes + lines.count
        }
        self.count = count
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    /// The field at `position`, in the order received.
    public subscript(position: Int) -> HTTPHeaderField {
        precondition(position >= 0 && position < count, "header field index out of range")
        let entry = storage.withUnsafeBytes { Self.entry(position, in: $0) }
        return HTTPHeaderField(name: storage[entry.name], value: storage[entry.value])
    }

    /// Whether a field named `name` (any ASCII case) is present.
    public func contains(_ name: StaticString) -> Bool {
        firstIndex(named: name) != nil
    }

    /// The value bytes of the first field named `name` (any ASCII case), without copying.
    public func valueBytes(_ name: StaticString) -> ArraySlice<UInt8>? {
        firstIndex(named: name).map { self[$0].value }
    }

    /// The value of the first field named `name` (any ASCII case) as a String; bytes that
    /// are not UTF-8 (obs-text) become U+FFFD. Allocates for values over 15 bytes.
    public func value(_ name: StaticString) -> String? {
        valueBytes(name).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The position of the first field named `name`, compared as ASCII ignoring case.
    public func firstIndex(named name: StaticString) -> Int? {
        storage.withUnsafeBytes { raw in
            name.withUTF8Buffer { wanted in
                for position in 0..<count {
                    let entry = Self.entry(position, in: raw)
                    if entry.name.count == wanted.count
                        && HTTPParseSyntax.equalsIgnoringCase(UnsafeRawBufferPointer(rebasing: raw[entry.name]), wanted)
                    {
                        return position
                    }
                }
                return nil
            }
        }
    }

    private static func entry(_ position: Int, in raw: UnsafeRawBufferPointer) -> (name: Range<Int>, value: Range<Int>) {
        let base = position * entryBytes
        func load(_ k: Int) -> Int { Int(raw.loadUnaligned(fromByteOffset: base + 4 * k, as: UInt32.self)) }
        let nameStart = load(0)
        let valueStart = load(2)
        return (nameStart..<nameStart + load(1), valueStart..<valueStart + load(3))
    }
}

/// One header field as received: name in its original case, value without surrounding OWS.
/// The slices share the fields' storage; `String(decoding: field.name, as: UTF8.self)`
/// makes a String when one is needed.
public struct HTTPHeaderField: Hashable, Sendable {
    public var name: ArraySlice<UInt8>
    public var value: ArraySlice<UInt8>
}
