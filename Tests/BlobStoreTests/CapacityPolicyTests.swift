import Glibc
import Testing
@testable import BlobStore

private let GiB = ByteSize.gibibyte
private let MiB = ByteSize.mebibyte

@Suite struct CapacityPolicyTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        var policy = CapacityPolicy()
        let usage: UInt64
        let space: FilesystemSpace
        var incoming: UInt64 = 0
        let expected: CapacityDecision
        var testDescription: String { name }
    }

    /// A 100 GiB filesystem with `available` free to unprivileged writers.
    static func disk(available: UInt64, total: UInt64 = 100 * GiB) -> FilesystemSpace {
        FilesystemSpace(totalBytes: total, availableBytes: available)
    }

    static let cases: [Case] = [
        Case(
            name: "under the cap nothing is evicted",
            usage: 10 * GiB, space: disk(available: 50 * GiB),
            // min(80 GiB, 10 + 50 − 5 GiB)
            expected: .init(effectiveCap: 55 * GiB, evictTo: nil, fits: true)),
        Case(
            name: "a write that fits under the cap evicts nothing",
            usage: 10 * GiB, space: disk(available: 50 * GiB), incoming: 45 * GiB,
            expected: .init(effectiveCap: 55 * GiB, evictTo: nil, fits: true)),
        Case(
            name: "a store exactly at the cap evicts nothing",
            policy: CapacityPolicy(maxSize: .bytes(20 * GiB), minFree: .bytes(0)),
            usage: 20 * GiB, space: disk(available: 50 * GiB),
            expected: .init(effectiveCap: 20 * GiB, evictTo: nil, fits: true)),
        Case(
            name: "a write that lands exactly on the cap evicts nothing",
            policy: CapacityPolicy(maxSize: .bytes(20 * GiB), minFree: .bytes(0)),
            usage: 19 * GiB, space: disk(available: 50 * GiB), incoming: GiB,
            expected: .init(effectiveCap: 20 * GiB, evictTo: nil, fits: true)),
        Case(
            name: "one byte over the cap evicts the reclaim below it, making room for the write",
            policy: CapacityPolicy(maxSize: .bytes(20 * GiB), minFree: .bytes(0)),
            usage: 20 * GiB, space: disk(available: 50 * GiB), incoming: 1,
            expected: .init(effectiveCap: 20 * GiB, evictTo: 19 * GiB - 1, fits: true)),
        Case(
            name: "a store over max_size evicts to max_size minus the reclaim",
            usage: 85 * GiB, space: disk(available: 15 * GiB),
            expected: .init(effectiveCap: 80 * GiB, evictTo: 79 * GiB, fits: true)),
        Case(
            name: "a disk nearly full from other writers shrinks the store below max_size",
            usage: 30 * GiB, space: disk(available: 2 * GiB),
            // available 2 GiB < min_free 5 GiB: the store gives back 3 GiB plus the reclaim.
            expected: .init(effectiveCap: 27 * GiB, evictTo: 26 * GiB, fits: true)),
        Case(
            name: "max_size in bytes caps the store",
            policy: CapacityPolicy(maxSize: .bytes(10 * GiB), minFree: .bytes(GiB), minReclaim: .percent(1)),
            usage: 12 * GiB, space: disk(available: 50 * GiB),
            expected: .init(effectiveCap: 10 * GiB, evictTo: 9 * GiB, fits: true)),
        Case(
            name: "max_size in percent caps the store the same way",
            policy: CapacityPolicy(maxSize: .percent(10), minFree: .percent(1), minReclaim: .bytes(GiB)),
            usage: 12 * GiB, space: disk(available: 50 * GiB),
            expected: .init(effectiveCap: 10 * GiB, evictTo: 9 * GiB, fits: true)),
        Case(
            name: "a reclaim larger than the cap saturates at zero",
            policy: CapacityPolicy(minReclaim: .bytes(10 * GiB)),
            usage: 8 * GiB, space: disk(available: 0),
            expected: .init(effectiveCap: 3 * GiB, evictTo: 0, fits: true)),
        Case(
            name: "the reclaim is limited to a quarter of max_size",
            policy: CapacityPolicy(maxSize: .bytes(2 * GiB), minFree: .bytes(0)),
            usage: 2 * GiB, space: disk(available: 50 * GiB), incoming: 1,
            expected: .init(effectiveCap: 2 * GiB, evictTo: 2 * GiB - 512 * MiB - 1, fits: true)),
        Case(
            name: "a write larger than everything does not fit",
            usage: 10 * GiB, space: disk(available: 50 * GiB), incoming: 60 * GiB,
            expected: .init(effectiveCap: 55 * GiB, evictTo: 0, fits: false)),
        Case(
            name: "a write that fits only after evicting everything fits",
            usage: 10 * GiB, space: disk(available: 50 * GiB), incoming: 55 * GiB,
            expected: .init(effectiveCap: 55 * GiB, evictTo: 0, fits: true)),
        Case(
            name: "an empty zero-sized filesystem evicts nothing",
            usage: 0, space: disk(available: 0, total: 0),
            expected: .init(effectiveCap: 0, evictTo: nil, fits: true)),
        Case(
            name: "a zero-sized filesystem fits no write",
            usage: 0, space: disk(available: 0, total: 0), incoming: 1,
            expected: .init(effectiveCap: 0, evictTo: 0, fits: false)),
        Case(
            name: "min_free larger than the filesystem leaves no room",
            policy: CapacityPolicy(minFree: .bytes(200 * GiB)),
            usage: 5 * GiB, space: disk(available: 50 * GiB),
            expected: .init(effectiveCap: 0, evictTo: 0, fits: true)),
        Case(
            name: "huge numbers saturate instead of trapping",
            policy: CapacityPolicy(maxSize: .bytes(.max), minFree: .bytes(0), minReclaim: .bytes(0)),
            usage: .max, space: disk(available: .max, total: .max), incoming: .max,
            expected: .init(effectiveCap: .max, evictTo: nil, fits: true)),
    ]

    @Test(arguments: cases)
    func decidesLikeKubeletHardEviction(_ example: Case) {
        let decision = example.policy.decide(usage: example.usage, space: example.space, incoming: example.incoming)
        #expect(decision == example.expected)
        #expect(decision.needsEviction == (example.expected.evictTo != nil))
    }

    @Test(arguments: cases)
    func evictingAsDecidedLeavesRoomForTheWrite(_ example: Case) {
        let decision = example.policy.decide(usage: example.usage, space: example.space, incoming: example.incoming)
        guard let evictTo = decision.evictTo, decision.fits else { return }
        #expect(evictTo + example.incoming <= decision.effectiveCap)
        // After evicting, with the space the eviction freed, the write needs no second pass.
        let freed = example.usage - min(example.usage, evictTo)
        let after = FilesystemSpace(
            totalBytes: example.space.totalBytes, availableBytes: example.space.availableBytes + freed)
        #expect(!example.policy.decide(usage: evictTo, space: after, incoming: example.incoming).needsEviction)
    }

    @Test func defaultsAreEightyPercentFivePercentFreeAndOneGibibyteReclaim() {
        let policy = CapacityPolicy()
        #expect(policy.maxSize == .percent(80))
        #expect(policy.minFree == .percent(5))
        #expect(policy.minReclaim == .bytes(GiB))
    }
}

@Suite struct FilesystemSpaceTests {
    @Test func readsTheSpaceOfAPath() throws {
        let space = try FilesystemSpace.of(path: "/")
        #expect(space.totalBytes > 0)
        #expect(space.availableBytes <= space.totalBytes)
    }

    @Test func readsTheSameFilesystemThroughADirectoryDescriptor() throws {
        let directory = try FileDescriptor.openDirectory("/")
        let byDescriptor = try FilesystemSpace.of(directory: directory.rawValue, path: "/")
        let byPath = try FilesystemSpace.of(path: "/")
        #expect(byDescriptor.totalBytes == byPath.totalBytes)
    }

    @Test func aMissingPathThrowsAnErrorNamingCallAndPath() {
        #expect(throws: SystemError(call: "statvfs", path: "/no/such/dir-blobcache", errno: ENOENT)) {
            try FilesystemSpace.of(path: "/no/such/dir-blobcache")
        }
    }

    @Test func aBadDescriptorThrowsAnErrorNamingTheCall() {
        #expect(throws: SystemError(call: "fstatvfs", path: "data", errno: EBADF)) {
            try FilesystemSpace.of(directory: -1, path: "data")
        }
    }

    @Test func countsFragmentsAndFallsBackToTheBlockSize() {
        var info = statvfs()
        info.f_blocks = 1000
        info.f_bavail = 250
        info.f_bfree = 300
        info.f_bsize = 4096
        info.f_frsize = 1024
        #expect(FilesystemSpace(info) == FilesystemSpace(totalBytes: 1_024_000, availableBytes: 256_000))
        info.f_frsize = 0
        #expect(FilesystemSpace(info) == FilesystemSpace(totalBytes: 4_096_000, availableBytes: 1_024_000))
    }

    @Test func absurdBlockCountsSaturate() {
        var info = statvfs()
        info.f_blocks = .max
        info.f_bavail = 1
        info.f_frsize = 4096
        #expect(FilesystemSpace(info) == FilesystemSpace(totalBytes: .max, availableBytes: 4096))
    }
}
