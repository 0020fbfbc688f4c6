import BlobStore
import Glibc
import Testing
@testable import BlobServer

@Suite struct UploadSessionLifecycle {
    final class Fixture {
        let path: String
        let store: BlobStore
        let sessions: UploadSessions
        let repository = RepositoryName("library/app")!

        init(idleTimeout: UInt64 = 60, maxSessions: Int = 8) throws {
            var template = Array("/tmp/blobcache-uploads-XXXXXX".utf8CString)
            path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
            var options = BlobStoreOptions()
            options.reconcileInBackground = false
            options.capacity = CapacityPolicy(maxSize: .percent(100), minFree: .bytes(0), minReclaim: .bytes(0))
            store = try BlobStore(directory: path + "/data", options: options)
            sessions = UploadSessions(store: store, idleTimeout: idleTimeout, maxSessions: maxSessions)
        }

        deinit {
            try? store.close()
            _ = "rm -rf '\(path)'".withCString { system($0) }
        }

        func chunk(_ bytes: [UInt8]) -> (BlobWriter) throws(BlobStoreError) -> Void {
            { writer throws(BlobStoreError) in
                let result = bytes.withUnsafeBytes { buffer in Result { () throws(BlobStoreError) in try writer.write(buffer) } }
                try result.get()
            }
        }
    }

    let content = Array((0..<3000).map { UInt8($0 % 251) })

    @Test func chunksInOrderThenAPutWithTheRightDigestStoreTheBlob() throws {
        let fixture = try Fixture()
        let id = try fixture.sessions.open(repository: fixture.repository, now: 0)
        #expect(id.utf8.count == 32 && Route.isSessionID(Substring(id)))
        #expect(try fixture.sessions.append(to: id, repository: fixture.repository, startOffset: 0, now: 1, fixture.chunk(Array(content[..<1000]))) == 1000)
        #expect(try fixture.sessions.offset(of: id, repository: fixture.repository) == 1000)
        #expect(try fixture.sessions.append(to: id, repository: fixture.repository, startOffset: 1000, now: 2, fixture.chunk(Array(content[1000..<2000]))) == 2000)
        let digest = StreamingHasher.digest(of: content)
        #expect(try fixture.sessions.complete(id, repository: fixture.repository, digest: digest, fixture.chunk(Array(content[2000...]))) == digest)
        #expect(fixture.store.contains(digest))
        #expect(fixture.sessions.count == 0)
        #expect(throws: UploadSessions.Failure.unknown) { try fixture.sessions.offset(of: id, repository: fixture.repository) }
    }

    @Test func aChunkThatLeavesAGapOrOverlapsIsRefusedWithTheCurrentOffset() throws {
        let fixture = try Fixture()
        let id = try fixture.sessions.open(repository: fixture.repository, now: 0)
        _ = try fixture.sessions.append(to: id, repository: fixture.repository, startOffset: 0, now: 1, fixture.chunk(Array(content[..<1000])))
        #expect(throws: UploadSessions.Failure.outOfOrder(expectedOffset: 1000)) {
            try fixture.sessions.append(to: id, repository: fixture.repository, startOffset: 1500, now: 2, fixture.chunk([1]))
        }
        #expect(throws: UploadSessions.Failure.outOfOrder(expectedOffset: 1000)) {
            try fixture.sessions.append(to: id, repository: fixture.repository, startOffset: 500, now: 2, fixture.chunk([1]))
        }
        // The session survives a refused chunk.
        #expect(try fixture.sessions.append(to: id, repository: fixture.repository, startOffset: 1000, now: 3, fixture.chunk([1])) == 1001)
    }

    @Test func aWrongDigestOnPutStoresNothingAndEndsTheSession() throws {
        let fixture = try Fixture()
        let id = try fixture.sessions.open(repository: fixture.repository, now: 0)
        _ = try fixture.sessions.append(to: id, repository: fixture.repository, startOffset: nil, now: 1, fixture.chunk(content))
        let claimed = StreamingHasher.digest(of: [1, 2, 3])
        #expect {
            try fixture.sessions.complete(id, repository: fixture.repository, digest: claimed, fixture.chunk([]))
        } throws: { error in
            guard case .store(.digestMismatch(let expected, let actual)) = error as? UploadSessions.Failure else { return false }
            return expected == claimed && actual == StreamingHasher.digest(of: content)
        }
        #expect(!fixture.store.contains(StreamingHasher.digest(of: content)))
        #expect(!fixture.store.contains(claimed))
        #expect(fixture.store.stats().blobs == 0)
        #expect(fixture.sessions.count == 0)
    }

    @Test func aSessionBelongsToItsRepository() throws {
        let fixture = try Fixture()
        let id = try fixture.sessions.open(repository: fixture.repository, now: 0)
        let other = RepositoryName("other")!
        #expect(throws: UploadSessions.Failure.unknown) { try fixture.sessions.offset(of: id, repository: other) }
        #expect(throws: UploadSessions.Failure.unknown) { try fixture.sessions.cancel(id, repository: other) }
        #expect(throws: UploadSessions.Failure.unknown) { try fixture.sessions.offset(of: "0123", repository: fixture.repository) }
    }

    @Test func aSessionInUseRefusesASecondRequest() throws {
        let fixture = try Fixture()
        let id = try fixture.sessions.open(repository: fixture.repository, now: 0)
        var inner: UploadSessions.Failure?
        _ = try fixture.sessions.append(to: id, repository: fixture.repository, startOffset: 0, now: 1) { writer throws(BlobStoreError) in
            do { _ = try fixture.sessions.append(to: id, repository: fixture.repository, startOffset: nil, now: 1) { _ throws(BlobStoreError) in } }
            catch { inner = error as? UploadSessions.Failure }
        }
        #expect(inner == .busy)
    }

    @Test func idleSessionsExpireAndCancelledOnesAreGone() throws {
        let fixture = try Fixture(idleTimeout: 10)
        let idle = try fixture.sessions.open(repository: fixture.repository, now: 0)
        let active = try fixture.sessions.open(repository: fixture.repository, now: 0)
        let cancelled = try fixture.sessions.open(repository: fixture.repository, now: 0)
        _ = try fixture.sessions.append(to: active, repository: fixture.repository, startOffset: 0, now: 8, fixture.chunk([1, 2]))
        try fixture.sessions.cancel(cancelled, repository: fixture.repository)
        #expect(fixture.sessions.expire(now: 9) == 0)
        #expect(fixture.sessions.expire(now: 10) == 1)
        #expect(throws: UploadSessions.Failure.unknown) { try fixture.sessions.offset(of: idle, repository: fixture.repository) }
        #expect(try fixture.sessions.offset(of: active, repository: fixture.repository) == 2)
        #expect(throws: UploadSessions.Failure.unknown) { try fixture.sessions.offset(of: cancelled, repository: fixture.repository) }
        #expect(fixture.store.stats().pendingBytes == 2)
    }

    @Test func sessionsBeyondTheCapAreRefused() throws {
        let fixture = try Fixture(maxSessions: 2)
        _ = try fixture.sessions.open(repository: fixture.repository, now: 0)
        _ = try fixture.sessions.open(repository: fixture.repository, now: 0)
        #expect(throws: UploadSessions.Failure.tooMany) { try fixture.sessions.open(repository: fixture.repository, now: 0) }
    }
}
