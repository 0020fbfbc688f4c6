import Glibc
import Testing
@testable import BlobStore

@Suite struct BlobStoreCrashes {
    /// What a killed writer had acknowledged.
    struct Acknowledged {
        var present: Set<Digest> = []
        var removed: Set<Digest> = []
        /// A removal said to be under way but not acknowledged: either outcome is correct.
        var uncertain: Set<Digest> = []

        mutating func apply(_ output: String) throws {
            uncertain = []
            for line in output.split(separator: "\n") {
                let parts = line.split(separator: " ")
                guard parts.count == 2 else { continue }
                let digest = try Digest(parsing: parts[1])
                switch parts[0] {
                case "C": present.insert(digest)
                case "r": uncertain.insert(digest)
                case "R":
                    uncertain.remove(digest)
                    present.remove(digest)
                    removed.insert(digest)
                default: break
                }
            }
            // An unacknowledged removal may or may not have happened.
            present.subtract(uncertain)
        }
    }

    @Test func writersKilledAtRandomMomentsNeverLoseAnAcknowledgedBlobOrLeaveAPartialOne() throws {
        let directory = StoreTestDirectory("crash")
        let executable = "\(ChildProcess.buildProductsDirectory)/blobstore-crash-writer"
        try #require(access(executable, X_OK) == 0, "build the package first: \(executable) is missing")
        var acknowledged = Acknowledged()
        var generator = SystemRandomNumberGenerator()
        let kills = 60
        for round in 0..<kills {
            let child = try ChildProcess(executable, [directory.data, String(round + 1)])
            // Kill at a random moment: sometimes before the store is open, mostly mid-write.
            usleep(UInt32.random(in: 2_000...120_000, using: &generator))
            let status = child.killAndWait()
            #expect(status & 0x7f == SIGKILL, "the writer ended before it was killed (status \(status))")
            try acknowledged.apply(child.readOutput())

            let store = try BlobStore(directory: directory.data, options: testOptions())
            try store.reconcile()
            for digest in acknowledged.present {
                let blob = try openExisting(store, digest)
                let hasher = StreamingHasher(digest.algorithm)
                hasher.update(try readAll(blob))
                #expect(hasher.finish() == digest, "round \(round): \(digest) reads back wrong")
            }
            for digest in acknowledged.removed {
                #expect(!store.contains(digest), "round \(round): removed \(digest) came back")
            }
            // Nothing partial or wrong is visible, and no temporary survives reconciliation.
            #expect(try store.verify().quarantined.isEmpty, "round \(round)")
            #expect(directoryEntries("\(directory.data)/tmp").isEmpty, "round \(round)")
            #expect(store.stats().blobs == blobFiles(in: directory.data).count, "round \(round)")
            try store.close()
        }
        #expect(acknowledged.present.count > kills, "the writers acknowledged too little to prove anything")
        print("crash test: \(acknowledged.present.count) blobs acknowledged, \(acknowledged.removed.count) removals")
    }
}
