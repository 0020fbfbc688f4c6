// libFuzzer target for byte ranges: the input is a `Range` value. Its parse must not depend on
// OWS around it or on arriving as bytes or as a String; resolved against sizes at and around
// every position it names, every range must lie inside the blob, several ranges must be
// disjoint, sorted apart and cover exactly what the specs select, and the `Content-Range` a
// 206 or 416 would carry must read back as written. The input is also read as an upload's
// `Content-Range`, which must round-trip through its canonical form.
// Built by Fuzz/build.sh.
@testable import BlobServer

/// The specs a parse holds, for the sizes to try and the coverage check.
func specs(of header: RangeHeader) -> [RangeSpec] {
    switch header {
    case .single(let spec): [spec]
    case .multiple(let specs): specs
    case .invalid, .ignored: []
    }
}

/// Sizes at, just below and just past each number the first specs name, plus the edges: a
/// hundred specs would make each input cost too much.
func sizes(for specs: [RangeSpec]) -> Set<UInt64> {
    var sizes: Set<UInt64> = [0, 1, 2, 1000, UInt64.max - 1, UInt64.max]
    for spec in specs.prefix(8) {
        let numbers: [UInt64] = switch spec {
        case .closed(let first, let last): [first, last]
        case .from(let first): [first]
        case .suffix(let length): [length]
        }
        for number in numbers {
            sizes.insert(number)
            if number > 0 { sizes.insert(number - 1) }
            if number < .max { sizes.insert(number + 1) }
        }
    }
    return sizes
}

/// Sorted, with overlapping and touching ranges merged: the bytes a list of ranges selects.
func union(_ ranges: [ByteRange]) -> [ByteRange] {
    var merged: [ByteRange] = []
    for range in ranges.sorted(by: { $0.first < $1.first }) {
        if let previous = merged.last, range.first <= previous.last + 1 {
            merged[merged.count - 1] = ByteRange(first: previous.first, last: max(previous.last, range.last))
        } else {
            merged.append(range)
        }
    }
    return merged
}

/// What a spec selects, written out from RFC 9110 §14.1.2 rather than taken from `resolved`.
func selection(_ spec: RangeSpec, size: UInt64) -> ByteRange? {
    guard size > 0 else { return nil }
    switch spec {
    case .closed(let first, let last):
        return first < size ? ByteRange(first: first, last: last < size ? last : size - 1) : nil
    case .from(let first):
        return first < size ? ByteRange(first: first, last: size - 1) : nil
    case .suffix(let length):
        return length == 0 ? nil : ByteRange(first: length >= size ? 0 : size - length, last: size - 1)
    }
}

/// A `Content-Range` value must parse back to itself from its canonical text.
func checkRoundTrip(_ value: ContentRange) {
    let text = value.description
    precondition(text.utf8.count <= ContentRange.maxEncodedCount, "Content-Range longer than its maximum: \(text)")
    precondition(ContentRange(parsing: text) == value, "Content-Range \(text) does not read back as \(value)")
}

func check(_ header: RangeHeader, size: UInt64) {
    let resolution = ByteRangeResolution(header, size: size)
    let specs = specs(of: header)
    let selected = specs.compactMap { selection($0, size: size) }
    let suffixOfEmpty = size == 0 && specs.contains { if case .suffix(let length) = $0 { length > 0 } else { false } }
    switch resolution {
    case .full:
        precondition(specs.isEmpty && header != .invalid || suffixOfEmpty, "\(header) served whole at size \(size)")
    case .unsatisfiable:
        precondition(header == .invalid || (!specs.isEmpty && selected.isEmpty && !suffixOfEmpty), "\(header) refused at size \(size)")
        checkRoundTrip(.unsatisfied(completeLength: size))
    case .single(let range):
        precondition(range.last < size, "\(range) outside size \(size)")
        precondition(union(selected) == [range], "\(header) at size \(size) gave \(range), selects \(union(selected))")
        checkRoundTrip(.bytes(range, completeLength: size))
    case .multiple(let ranges):
        precondition(ranges.count >= 2 && ranges.count <= RangeHeader.maxRanges, "\(ranges.count) ranges")
        let sorted = ranges.sorted { $0.first < $1.first }
        for (earlier, later) in zip(sorted, sorted.dropFirst()) {
            precondition(earlier.last + 1 < later.first, "\(earlier) and \(later) overlap or touch")
        }
        precondition(sorted.last!.last < size, "\(sorted.last!) outside size \(size)")
        precondition(sorted == union(selected), "\(header) at size \(size) gave \(ranges), selects \(union(selected))")
        for range in ranges { checkRoundTrip(.bytes(range, completeLength: size)) }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let header = RangeHeader(parsing: input)
    if let text = String(validating: input, as: UTF8.self) {
        precondition(RangeHeader(parsing: text) == header, "the String and byte parses differ")
        precondition(RangeHeader(parsing: " \t" + text + "\t ") == header, "OWS around the value changed its parse")
    }
    switch header {
    case .single(let spec):
        if case .closed(let first, let last) = spec { precondition(first <= last, "a closed spec with last < first") }
    case .multiple(let specs):
        precondition(specs.count >= 2 && specs.count <= RangeHeader.maxRanges, "\(specs.count) specs")
        for case .closed(let first, let last) in specs { precondition(first <= last, "a closed spec with last < first") }
    case .invalid, .ignored:
        break
    }
    for blobSize in sizes(for: specs(of: header)) { check(header, size: blobSize) }
    check(header, size: UInt64(size))

    if let contentRange = ContentRange(parsing: input) {
        switch contentRange {
        case .bytes(let range, let length):
            precondition(range.first <= range.last && range.last < .max, "unwritable range \(range)")
            if let length { precondition(range.last < length, "\(range) past its length \(length)") }
        case .unsatisfied:
            break
        }
        checkRoundTrip(contentRange)
    }
    return 0
}
