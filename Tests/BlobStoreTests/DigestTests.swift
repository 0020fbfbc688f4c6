import Testing

@testable import BlobStore

// SHA-256 and SHA-512 of "abc" (FIPS 180-2, appendix B.1 and C.1).
private let abc256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
private let abc512 =
    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
    + "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"

/// A string the parser must refuse, and the exact reason.
struct RejectedDigest: Sendable, CustomTestStringConvertible {
    let label: String
    let input: String
    let error: DigestError

    init(_ label: String, _ input: String, _ error: DigestError) {
        self.label = label
        self.input = input
        self.error = error
    }

    var testDescription: String { label }
}

private let rejected: [RejectedDigest] = [
    // Case: OCI allows lowercase only, in both parts.
    .init("uppercase hex", "sha256:" + abc256.uppercased(), .invalidHex(offset: 0)),
    .init("one uppercase hex digit at the end", "sha256:" + abc256.dropLast(2) + "AD", .invalidHex(offset: 62)),
    .init("one uppercase hex digit in sha512", "sha512:" + abc512.prefix(100) + "F" + abc512.dropFirst(101),
          .invalidHex(offset: 100)),
    .init("uppercase algorithm", "SHA256:" + abc256, .unsupportedAlgorithm("SHA256")),
    .init("mixed-case algorithm", "Sha512:" + abc512, .unsupportedAlgorithm("Sha512")),
    // Length.
    .init("short sha256 hex", "sha256:" + abc256.dropLast(), .wrongLength(algorithm: .sha256, expected: 64, actual: 63)),
    .init("long sha256 hex", "sha256:" + abc256 + "0", .wrongLength(algorithm: .sha256, expected: 64, actual: 65)),
    .init("sha512 hex under sha256", "sha256:" + abc512, .wrongLength(algorithm: .sha256, expected: 64, actual: 128)),
    .init("sha256 hex under sha512", "sha512:" + abc256, .wrongLength(algorithm: .sha512, expected: 128, actual: 64)),
    .init("short sha512 hex", "sha512:" + abc512.dropLast(), .wrongLength(algorithm: .sha512, expected: 128, actual: 127)),
    .init("long sha512 hex", "sha512:" + abc512 + "00", .wrongLength(algorithm: .sha512, expected: 128, actual: 130)),
    .init("no hex at all", "sha256:", .wrongLength(algorithm: .sha256, expected: 64, actual: 0)),
    // Separator.
    .init("missing colon", "sha256" + abc256, .missingSeparator),
    .init("bare hex", abc256, .missingSeparator),
    .init("empty string", "", .missingSeparator),
    .init("colon only", ":", .unsupportedAlgorithm("")),
    .init("empty algorithm", ":" + abc256, .unsupportedAlgorithm("")),
    .init("two digests in a row", "sha256:sha256:" + abc256, .wrongLength(algorithm: .sha256, expected: 64, actual: 71)),
    // Algorithms OCI registers, or used to, but this store does not.
    .init("md5", "md5:d41d8cd98f00b204e9800998ecf8427e", .unsupportedAlgorithm("md5")),
    .init("sha384", "sha384:" + String(repeating: "a", count: 96), .unsupportedAlgorithm("sha384")),
    .init("algorithm extension with +", "sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564",
          .unsupportedAlgorithm("sha256+b64u")),
    .init("algorithm extension with .", "sha256.v2:" + abc256, .unsupportedAlgorithm("sha256.v2")),
    .init("an algorithm name is cut to 32 bytes in the error", String(repeating: "x", count: 100) + ":" + abc256,
          .unsupportedAlgorithm(String(repeating: "x", count: 32))),
    // Bytes outside [0-9a-f].
    .init("g at the start", "sha256:g" + abc256.dropFirst(), .invalidHex(offset: 0)),
    .init("z at the end", "sha256:" + abc256.dropLast() + "z", .invalidHex(offset: 63)),
    .init("dash in the middle", "sha256:" + abc256.prefix(40) + "-" + abc256.dropFirst(41), .invalidHex(offset: 40)),
    .init("non-ASCII letter of the right byte length", "sha256:é" + abc256.dropFirst(2), .invalidHex(offset: 0)),
    // Whitespace.
    .init("leading space", " sha256:" + abc256, .unsupportedAlgorithm(" sha256")),
    .init("space after the colon", "sha256: " + abc256.dropFirst(), .invalidHex(offset: 0)),
    .init("space inside the hex", "sha256:" + abc256.prefix(32) + " " + abc256.dropFirst(33), .invalidHex(offset: 32)),
    .init("tab inside the hex", "sha256:" + abc256.prefix(10) + "\t" + abc256.dropFirst(11), .invalidHex(offset: 10)),
    .init("trailing newline", "sha256:" + abc256 + "\n", .wrongLength(algorithm: .sha256, expected: 64, actual: 65)),
    .init("trailing CRLF in place of the last digit", "sha256:" + abc256.dropLast(2) + "\r\n", .invalidHex(offset: 62)),
    // NUL, which C would read as the end of the string.
    .init("NUL in place of the last digit", "sha256:" + abc256.dropLast() + "\0", .invalidHex(offset: 63)),
    .init("NUL after the hex", "sha256:" + abc256 + "\0", .wrongLength(algorithm: .sha256, expected: 64, actual: 65)),
    .init("NUL inside the algorithm", "sha256\0:" + abc256, .unsupportedAlgorithm("sha256\0")),
    // Inputs that would escape a directory if used as a path.
    .init("traversal in place of the hex", "sha256:../../../../etc/passwd",
          .wrongLength(algorithm: .sha256, expected: 64, actual: 22)),
    .init("traversal of the right length", "sha256:../" + abc256.dropFirst(3), .invalidHex(offset: 0)),
    .init("traversal at the end of the hex", "sha256:" + abc256.dropLast(3) + "/..", .invalidHex(offset: 61)),
    .init("traversal before the algorithm", "../sha256:" + abc256, .unsupportedAlgorithm("../sha256")),
    .init("absolute path", "/etc/passwd", .missingSeparator),
    // Percent-encoding is for the URL layer to undo, never for the parser.
    .init("percent-encoded colon", "sha256%3A" + abc256, .missingSeparator),
    .init("percent-encoded colon before a colon", "sha256%3a:" + abc256, .unsupportedAlgorithm("sha256%3a")),
    .init("percent-encoded hex digit", "sha256:%62" + abc256.dropFirst(3), .invalidHex(offset: 0)),
    .init("percent-encoded algorithm letter", "%73ha256:" + abc256, .unsupportedAlgorithm("%73ha256")),
]

/// Parses through the byte-buffer entry point, the one request parsing uses.
private func parseBytes(_ text: String) throws(DigestError) -> Digest {
    var copy = text
    let parsed: Result<Digest, DigestError> = copy.withUTF8 { buffer in
        Result { () throws(DigestError) in try Digest(parsing: UnsafeRawBufferPointer(buffer)) }
    }
    return try parsed.get()
}

private func randomDigest(_ algorithm: DigestAlgorithm, using generator: inout some RandomNumberGenerator) -> Digest {
    Digest(algorithm: algorithm, bytes: (0..<algorithm.byteCount).map { _ in UInt8.random(in: 0...255, using: &generator) })
}

@Suite("Digest")
struct DigestTests {
    @Test(arguments: ["sha256:" + abc256, "sha512:" + abc512,
                      "sha256:" + String(repeating: "0", count: 64), "sha512:" + String(repeating: "f", count: 128),
                      "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"])
    func canonicalDigestsRoundTripThroughDescription(_ text: String) throws {
        let digest = try Digest(parsing: text)
        #expect(digest.description == text)
        #expect("\(digest.algorithm):\(digest.hex)" == text)
        #expect(digest.bytes.count == digest.algorithm.byteCount)
        #expect(try parseBytes(text) == digest)
        let wrapped = "<" + text + ">"
        #expect(try Digest(parsing: wrapped.dropFirst().dropLast()) == digest)
        #expect(try Digest(parsing: text[...]) == digest)
        #expect(Digest(algorithm: digest.algorithm, bytes: digest.bytes) == digest)
    }

    @Test func parsedAlgorithmAndBytesMatchTheText() throws {
        let digest = try Digest(parsing: "sha256:" + abc256)
        #expect(digest.algorithm == .sha256)
        #expect(digest.bytes.prefix(4) == [0xba, 0x78, 0x16, 0xbf])
        #expect(digest.bytes.last == 0xad)
        #expect(try Digest(parsing: "sha512:" + abc512).algorithm == .sha512)
    }

    @Test(arguments: rejected)
    func nonCanonicalInputIsRejectedWithTheExactReason(_ rejection: RejectedDigest) {
        #expect(throws: rejection.error) { try Digest(parsing: rejection.input) }
        #expect(throws: rejection.error) { try parseBytes(rejection.input) }
    }

    @Test func substringsParseWithoutCopyingAndRejectTheSame() throws {
        let line = "GET /blobs/sha256:\(abc256) HTTP/1.1"
        let path = line.split(separator: " ")[1]
        let name = path.dropFirst("/blobs/".count)
        #expect(try Digest(parsing: name).description == "sha256:" + abc256)
        #expect(throws: DigestError.missingSeparator) { try Digest(parsing: path.dropFirst(100)) }
    }

    @Test func writeHexFillsExactlyTheHexLength() throws {
        let digest = try Digest(parsing: "sha512:" + abc512)
        var out = [UInt8](repeating: UInt8(ascii: "#"), count: 130)
        let written = out.withUnsafeMutableBytes { digest.writeHex(into: $0) }
        #expect(written == 128)
        #expect(String(decoding: out.prefix(128), as: UTF8.self) == abc512)
        #expect(out.suffix(2) == [UInt8(ascii: "#"), UInt8(ascii: "#")])
    }

    @Test func orderingMatchesTheOrderingOfTheCanonicalStrings() {
        var generator = SystemRandomNumberGenerator()
        var digests: [Digest] = []
        for _ in 0..<200 {
            digests.append(randomDigest(DigestAlgorithm.allCases.randomElement(using: &generator)!, using: &generator))
        }
        // Pairs that share a long prefix, so the order is decided by late bytes.
        let base = randomDigest(.sha512, using: &generator).bytes
        for last in [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff] as [UInt8] {
            digests.append(Digest(algorithm: .sha512, bytes: base.dropLast() + [last]))
            digests.append(Digest(algorithm: .sha256, bytes: base.prefix(31) + [last]))
        }
        digests.append(Digest(algorithm: .sha256, bytes: [UInt8](repeating: 0xff, count: 32)))
        digests.append(Digest(algorithm: .sha512, bytes: [UInt8](repeating: 0x00, count: 64)))

        #expect(digests.sorted().map(\.description) == digests.map(\.description).sorted())
        for (left, right) in zip(digests, digests.reversed()) {
            #expect((left < right) == (left.description < right.description))
        }
    }

    @Test func sha256AndSha512DigestsNeverCompareEqual() {
        for fill in [0x00, 0x5a, 0xff] as [UInt8] {
            let short = Digest(algorithm: .sha256, bytes: [UInt8](repeating: fill, count: 32))
            // The same first 32 bytes, then the zeros a sha256 digest keeps past its end.
            let long = Digest(algorithm: .sha512, bytes: [UInt8](repeating: fill, count: 32) + [UInt8](repeating: 0, count: 32))
            #expect(short != long)
            #expect(short < long)
            #expect(!(long < short))
            #expect(Set([short, long]).count == 2)
        }
    }

    @Test func sha512DigestsDifferingOnlyInTheLastByteAreDifferentAndHashApart() throws {
        let first = try Digest(parsing: "sha512:" + abc512)
        let second = try Digest(parsing: "sha512:" + abc512.dropLast() + "e")
        #expect(first != second)
        #expect(first.hashValue != second.hashValue)
        #expect(Set([first, second, first]).count == 2)
        #expect(Set([first, second]).contains(try Digest(parsing: "sha512:" + abc512)))
    }

    @Test func digestsThatShareAPrefixSpreadOverHashValues() {
        // A client can name digests that differ only at the end; they must not all collide.
        var prefix = [UInt8](repeating: 0x11, count: 32)
        var hashes = Set<Int>()
        for last in 0...255 {
            prefix[31] = UInt8(last)
            hashes.insert(Digest(algorithm: .sha256, bytes: prefix).hashValue)
        }
        #expect(hashes.count == 256)
    }

    @Test func equalDigestsHashEqually() throws {
        let parsed = try Digest(parsing: "sha256:" + abc256)
        let built = Digest(algorithm: .sha256, bytes: parsed.bytes)
        #expect(parsed == built)
        #expect(parsed.hashValue == built.hashValue)
        #expect(!(parsed < built) && !(built < parsed))
    }

    @Test func errorDescriptionsSayWhatIsWrong() {
        #expect(DigestError.missingSeparator.description.contains("':'"))
        #expect(DigestError.unsupportedAlgorithm("md5").description.contains("'md5'"))
        #expect(DigestError.wrongLength(algorithm: .sha512, expected: 128, actual: 3).description
            == "sha512 digest needs 128 hex characters, got 3")
        #expect(DigestError.invalidHex(offset: 7).description.hasSuffix("offset 7"))
    }

    @Test func digestIsSeventyTwoInlineBytes() {
        // The algorithm and 64 hash bytes, padded to 8: no heap storage, no pointer.
        #expect(MemoryLayout<Digest>.stride == 72)
    }
}
