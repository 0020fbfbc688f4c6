// libFuzzer target for digest parsing. Only canonical digests exist, so a digest that parses
// must be its own description byte for byte, and re-parse to an equal digest with the same
// hash; the byte, String and Substring parses must agree; an error must point at the first
// offending hex byte. With two lines, the two digests must order as their texts do.
// Built by Fuzz/build.sh.
import BlobStore

/// Parses `text` every way a caller can, checks they agree, and returns the result.
func parse(_ text: UnsafeRawBufferPointer) -> Result<Digest, DigestError> {
    let parsed = Result { () throws(DigestError) in try Digest(parsing: text) }
    if let string = String(validating: text, as: UTF8.self) {
        let fromString = Result { () throws(DigestError) in try Digest(parsing: string) }
        precondition(fromString == parsed, "the String parse differs: \(fromString) vs \(parsed)")
        // Sliced by scalars: a leading combining mark would join "<" in one Character.
        let padded = "<" + string + ">"
        let substring = Substring(padded.unicodeScalars.dropFirst().dropLast())
        let fromSubstring = Result { () throws(DigestError) in try Digest(parsing: substring) }
        precondition(fromSubstring == parsed, "the Substring parse differs: \(fromSubstring) vs \(parsed)")
    }
    switch parsed {
    case .success(let digest):
        let description = digest.description
        precondition(description.utf8.elementsEqual(text), "accepted a non-canonical digest, described as \(description)")
        let again = try! Digest(parsing: description)
        precondition(again == digest && again.hashValue == digest.hashValue, "the description does not re-parse equal")
        precondition(digest.hex.utf8.count == digest.algorithm.hexCount, "hex of the wrong length")
        precondition(digest.bytes.count == digest.algorithm.byteCount, "bytes of the wrong length")
        let rebuilt = Digest(algorithm: digest.algorithm, bytes: digest.bytes)
        precondition(rebuilt == digest && rebuilt.hashValue == digest.hashValue, "rebuilt from its bytes, not equal")
        precondition(!(digest < digest), "a digest orders before itself")
    case .failure(.invalidHex(let offset)):
        let colon = text.firstIndex(of: UInt8(ascii: ":"))!
        let hex = text[(colon + 1)...]
        let isHex = { (byte: UInt8) in (0x30...0x39).contains(byte) || (0x61...0x66).contains(byte) }
        precondition(offset < hex.count && !isHex(hex[hex.startIndex + offset]), "invalid hex reported at \(offset)")
        precondition(hex.prefix(offset).allSatisfy(isHex), "invalid hex reported after the first bad byte")
    case .failure(.wrongLength(let algorithm, let expected, let actual)):
        let colon = text.firstIndex(of: UInt8(ascii: ":"))!
        precondition(expected == algorithm.hexCount && actual == text.count - colon - 1 && actual != expected, "wrong length misreported")
    case .failure(let error):
        precondition(!error.description.isEmpty, "an error without a description")
    }
    return parsed
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    guard let newline = input.firstIndex(of: UInt8(ascii: "\n")) else {
        _ = parse(input)
        return 0
    }
    let first = parse(UnsafeRawBufferPointer(rebasing: input[..<newline]))
    let second = parse(UnsafeRawBufferPointer(rebasing: input[(newline + 1)...]))
    if case .success(let a) = first, case .success(let b) = second {
        precondition((a < b) == (a.description < b.description), "\(a) and \(b) order unlike their texts")
        precondition((a == b) == (a.description == b.description), "\(a) and \(b) compare unlike their texts")
        precondition(a != b || a.hashValue == b.hashValue, "equal digests hash differently")
    }
    return 0
}
