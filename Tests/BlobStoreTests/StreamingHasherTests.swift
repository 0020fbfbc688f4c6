import Glibc
import Testing

@testable import BlobStore

/// A message and its digest from the FIPS 180-2 examples.
struct NISTVector: Sendable, CustomTestStringConvertible {
    let algorithm: DigestAlgorithm
    let message: String
    let hex: String

    var digest: Digest { try! Digest(parsing: "\(algorithm):\(hex)") }
    var testDescription: String { "\(algorithm)(\"\(message.prefix(16))\(message.count > 16 ? "…" : "")\")" }
}

private let twoBlockMessage = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"

private let nistVectors: [NISTVector] = [
    NISTVector(algorithm: .sha256, message: "abc",
               hex: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    NISTVector(algorithm: .sha256, message: "",
               hex: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    NISTVector(algorithm: .sha256, message: twoBlockMessage,
               hex: "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    NISTVector(algorithm: .sha512, message: "abc",
               hex: "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                   + "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"),
    NISTVector(algorithm: .sha512, message: "",
               hex: "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
                   + "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"),
    NISTVector(algorithm: .sha512, message: twoBlockMessage,
               hex: "204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c335"
                   + "96fd15c13b1b07f9aa1d3bea57789ca031ad85c7a71dd70354ec631238ca3445"),
]

/// One million 'a' (FIPS 180-2, appendix B.3 and C.3).
private let millionA: [(DigestAlgorithm, String)] = [
    (.sha256, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
    (.sha512, "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb"
        + "de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b"),
]

private func randomBytes(_ count: Int) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
}

/// Feeds `bytes` to `hasher` in pieces of `chunk` bytes (the last may be shorter).
private func feed(_ hasher: StreamingHasher, _ bytes: [UInt8], chunk: Int) {
    bytes.withUnsafeBytes { raw in
        for start in stride(from: 0, to: raw.count, by: chunk) {
            hasher.update(UnsafeRawBufferPointer(rebasing: raw[start..<min(start + chunk, raw.count)]))
        }
    }
}

/// Runs /usr/bin/openssl with `arguments`, its standard output going to `output`.
/// Returns the wait status: 0 when it exited with status 0.
private func runOpenSSL(_ arguments: [String], output: String) -> Int32 {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    let argv = (["openssl"] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    let environment: [UnsafeMutablePointer<CChar>?] = [nil]
    var pid = pid_t()
    let spawned = posix_spawn(&pid, "/usr/bin/openssl", &actions, nil, argv, environment)
    guard spawned == 0 else { return -1 }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 {
        if errno != EINTR { return -1 }
    }
    return status
}

private func readWholeFile(_ path: String) throws -> [UInt8] {
    let file = try FileDescriptor.open(path, flags: O_RDONLY)
    var bytes = [UInt8](repeating: 0, count: Int(try file.size()))
    var done = 0
    while done < bytes.count {
        let got = try bytes.withUnsafeMutableBytes { raw in
            try file.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[done...]), at: UInt64(done))
        }
        if got == 0 { break }
        done += got
    }
    return Array(bytes.prefix(done))
}

@Suite("StreamingHasher")
struct StreamingHasherTests {
    @Test(arguments: nistVectors)
    func nistExampleHashesToItsPublishedDigest(_ vector: NISTVector) {
        let bytes = Array(vector.message.utf8)
        #expect(StreamingHasher.digest(of: bytes, using: vector.algorithm) == vector.digest)

        let hasher = StreamingHasher(vector.algorithm)
        hasher.update(vector.message.utf8)
        #expect(hasher.count == UInt64(bytes.count))
        #expect(hasher.finish().description == "\(vector.algorithm):\(vector.hex)")
    }

    @Test(arguments: nistVectors)
    func feedingOneByteAtATimeEqualsOneShot(_ vector: NISTVector) {
        let hasher = StreamingHasher(vector.algorithm)
        for byte in vector.message.utf8 {
            withUnsafeBytes(of: byte) { hasher.update($0) }
        }
        #expect(hasher.count == UInt64(vector.message.utf8.count))
        #expect(hasher.finish() == vector.digest)
    }

    @Test(arguments: millionA)
    func oneMillionAFedInOddChunksHashesToItsPublishedDigest(_ algorithm: DigestAlgorithm, _ hex: String) throws {
        let message = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        let expected = try Digest(parsing: "\(algorithm):\(hex)")
        for chunk in [997, 1, 4096 + 3] {
            let hasher = StreamingHasher(algorithm)
            feed(hasher, message, chunk: chunk)
            #expect(hasher.count == 1_000_000)
            #expect(hasher.finish() == expected, "chunk \(chunk)")
        }
        #expect(StreamingHasher.digest(of: message, using: algorithm) == expected)
    }

    @Test(arguments: DigestAlgorithm.allCases)
    func feedingRandomDataInAnyChunkingGivesTheSameDigest(_ algorithm: DigestAlgorithm) {
        let data = randomBytes(70_001)
        let oneShot = StreamingHasher.digest(of: data, using: algorithm)
        #expect(oneShot.algorithm == algorithm)
        for chunk in [1, 63, 64, 65, 127, 128, 129, 8192, 70_000, 70_001] {
            let hasher = StreamingHasher(algorithm)
            feed(hasher, data, chunk: chunk)
            #expect(hasher.finish() == oneShot, "chunk \(chunk)")
        }
    }

    @Test func contiguousAndNonContiguousSequencesHashTheSame() {
        let bytes = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let expected = StreamingHasher.digest(of: bytes)
        #expect(StreamingHasher.digest(of: bytes[100...]) == StreamingHasher.digest(of: Array(bytes[100...])))
        #expect(StreamingHasher.digest(of: (0..<5000).lazy.map { UInt8(truncatingIfNeeded: $0 &* 31) }) == expected)
        #expect(StreamingHasher.digest(of: Set([UInt8(7)])) == StreamingHasher.digest(of: [7]))
        #expect(StreamingHasher.digest(of: "abc".utf8) == nistVectors[0].digest)
        #expect(StreamingHasher.digest(of: "abc".utf8, using: .sha512) == nistVectors[3].digest)
    }

    @Test func resetLetsTheHasherBeReused() {
        let hasher = StreamingHasher(.sha256)
        hasher.update("abc".utf8)
        #expect(hasher.finish() == nistVectors[0].digest)

        hasher.reset()
        #expect(hasher.count == 0)
        #expect(hasher.finish() == nistVectors[1].digest)

        // A reset in the middle forgets what came before.
        hasher.reset()
        hasher.update("some bytes that are thrown away".utf8)
        hasher.reset()
        hasher.update(twoBlockMessage.utf8)
        #expect(hasher.finish() == nistVectors[2].digest)

        for _ in 0..<3 {
            hasher.reset()
            hasher.update("abc".utf8)
            #expect(hasher.finish() == nistVectors[0].digest)
        }
    }

    @Test func resetKeepsTheAlgorithm() {
        let hasher = StreamingHasher(.sha512)
        hasher.update("x".utf8)
        hasher.reset()
        hasher.update("abc".utf8)
        #expect(hasher.algorithm == .sha512)
        #expect(hasher.finish() == nistVectors[3].digest)
    }

    @Test func countCountsBytesFedSinceTheLastReset() {
        let hasher = StreamingHasher(.sha256)
        #expect(hasher.count == 0)
        hasher.update([1, 2, 3])
        [UInt8]().withUnsafeBytes { hasher.update($0) }
        hasher.update([UInt8]())
        #expect(hasher.count == 3)
        randomBytes(10_000).withUnsafeBytes { hasher.update($0) }
        #expect(hasher.count == 10_003)
        _ = hasher.finish()
        #expect(hasher.count == 10_003)
        hasher.reset()
        #expect(hasher.count == 0)
    }

    @Test func updatingAfterFinishWithoutResetStopsTheProcess() async {
        // OpenSSL would go on from the finished state and give a wrong digest.
        await #expect(processExitsWith: .failure) {
            let hasher = StreamingHasher(.sha256)
            _ = hasher.finish()
            hasher.update([1])
        }
        await #expect(processExitsWith: .failure) {
            let hasher = StreamingHasher(.sha512)
            _ = hasher.finish()
            _ = hasher.finish()
        }
    }

    // `make test` installs openssl: a missing command fails the test rather than skipping it.
    @Test(arguments: DigestAlgorithm.allCases)
    func digestOfARandomFileMatchesTheOpensslCommand(_ algorithm: DigestAlgorithm) throws {
        try #require(access("/usr/bin/openssl", X_OK) == 0, "the openssl command is missing")
        let directory = StoreTestDirectory("hash")
        let data = randomBytes(1 << 20)
        let file = try FileDescriptor.open(directory.file("random"), flags: O_CREAT | O_EXCL | O_WRONLY)
        try data.withUnsafeBytes { try file.writeAll($0) }

        let status = runOpenSSL(["dgst", "-\(algorithm)", "-r", directory.file("random")], output: directory.file("out"))
        #expect(status == 0)
        // `-r` prints "<hex> *<path>\n".
        let output = String(decoding: try readWholeFile(directory.file("out")), as: UTF8.self)
        let hex = try #require(output.split(separator: " ").first)
        let expected = try Digest(parsing: "\(algorithm):\(hex)")

        #expect(StreamingHasher.digest(of: data, using: algorithm) == expected)
        let hasher = StreamingHasher(algorithm)
        feed(hasher, data, chunk: 997)
        #expect(hasher.count == 1 << 20)
        #expect(hasher.finish() == expected)
    }
}
