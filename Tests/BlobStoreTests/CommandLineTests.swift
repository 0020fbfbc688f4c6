import Glibc
import Testing
@testable import BlobStore

/// The `blobcache` executable, run as a user would.
@Suite struct BlobcacheCommandLine {
    let executable = "\(ChildProcess.buildProductsDirectory)/blobcache"

    func exitCode(_ status: Int32) -> Int32 { status & 0x7f == 0 ? (status >> 8) & 0xff : -1 }

    @Test func verifyReportsAndQuarantinesARottenBlobAndExitsOne() throws {
        let directory = StoreTestDirectory("cli")
        var good: Digest, bad: Digest
        do {
            let store = try BlobStore(directory: directory.data, options: testOptions())
            good = try store.put(pseudoRandomBytes(count: 4096, seed: 1))
            bad = try store.put(pseudoRandomBytes(count: 4096, seed: 2))
            try store.close()
        }
        corrupt(file: "\(directory.data)/\(StoreLayout.path(of: bad))", at: 100)
        let run = try ChildProcess(executable, ["verify", "--data-dir", directory.data])
        let output = run.readOutput()
        #expect(exitCode(run.waitForExit()) == 1)
        #expect(output.contains("verified 2 blobs"))
        #expect(output.contains("quarantined \(bad)"))
        #expect(!output.contains("quarantined \(good)"))

        let again = try ChildProcess(executable, ["verify", "--data-dir", directory.data])
        #expect(again.readOutput().contains("verified 1 blobs"))
        #expect(exitCode(again.waitForExit()) == 0)
    }

    @Test func serveListensUntilSIGTERMThenFlushesTheIndexAndExitsZero() throws {
        let directory = StoreTestDirectory("cli")
        let serve = try ChildProcess(executable, ["serve", "--listen", "127.0.0.1:0", "--data-dir", directory.data])
        // The ready line arrives while the server runs, not when it exits.
        let ready = serve.readLine(timeoutMilliseconds: 10_000)
        #expect(ready?.contains("listening on http://127.0.0.1:") == true, "no ready line: \(ready ?? "nothing")")
        #expect(ready?.contains("data in \(directory.data)") == true)
        #expect(exitCode(serve.signalAndWait(SIGTERM)) == 0)
        #expect(access("\(directory.data)/index/snapshot", F_OK) == 0, "no snapshot was written on SIGTERM")
    }

    @Test(arguments: [["serve", "--bogus"], ["serve", "--max-size", "80 %"], ["serve", "--log-level", "loud"], ["verify"], ["frobnicate"], []])
    func badCommandLinesExitTwoAndSayWhy(_ arguments: [String]) throws {
        let run = try ChildProcess(executable, arguments)
        #expect(exitCode(run.waitForExit()) == 2)
    }
}

@Suite struct BlobcacheImport {
    let executable = "\(ChildProcess.buildProductsDirectory)/blobcache"

    /// Writes `bytes` to `path`.
    func write(_ bytes: [UInt8], to path: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    @Test func anOCILayoutIsImportedVerifiedAndACorruptBlobIsRefused() throws {
        let directory = StoreTestDirectory("import")
        let layout = directory.file("layout")
        mkdir(layout, 0o755)
        mkdir("\(layout)/blobs", 0o755)
        mkdir("\(layout)/blobs/sha256", 0o755)
        write(Array(#"{"imageLayoutVersion": "1.0.0"}"#.utf8), to: "\(layout)/oci-layout")
        let good = pseudoRandomBytes(count: 3 << 20, seed: 1)
        let goodDigest = StreamingHasher.digest(of: good)
        write(good, to: "\(layout)/blobs/sha256/\(goodDigest.hex)")
        let badDigest = StreamingHasher.digest(of: [1, 2, 3])
        write([1, 2, 4], to: "\(layout)/blobs/sha256/\(badDigest.hex)")
        write([0], to: "\(layout)/blobs/sha256/not-a-digest")

        let run = try ChildProcess(executable, ["import", "--data-dir", directory.data, layout])
        let output = run.readOutput()
        let status = run.waitForExit()
        #expect((status >> 8) & 0xff == 1, "refused files must make import fail")
        #expect(output.contains("imported 1 blobs"))
        #expect(output.contains("refused \(layout)/blobs/sha256/\(badDigest.hex): digest mismatch"))
        #expect(output.contains("refused \(layout)/blobs/sha256/not-a-digest"))

        let store = try BlobStore(directory: directory.data, options: testOptions())
        #expect(try readAll(openExisting(store, goodDigest)) == good)
        #expect(!store.contains(badDigest))
        try store.close()

        let again = try ChildProcess(executable, ["import", "--data-dir", directory.data, layout])
        #expect(again.readOutput().contains("imported 0 blobs (0B); 1 already present"))
        _ = again.waitForExit()
    }

    @Test func aDirectoryThatIsNotALayoutIsRefused() throws {
        let directory = StoreTestDirectory("import")
        let run = try ChildProcess(executable, ["import", "--data-dir", directory.data, directory.path])
        #expect(run.readOutput().isEmpty)
        #expect((run.waitForExit() >> 8) & 0xff == 1)
    }
}
