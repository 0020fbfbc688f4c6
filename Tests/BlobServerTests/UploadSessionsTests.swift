import BlobStore
import Glibc
import TestSupport
import Testing
@testable import BlobServer

@Suite struct UploadSessionLifecycle {
    final class Fixture {
        let directory = StoreTestDirectory("uploads")
        let store: BlobStore
        let sessions: UploadSessions
        let repository = RepositoryName("library/app")!

        init(idleTimeout: UInt64 = 60, maxSessions: Int = 8) throws {
            store = try BlobStore(directory: directory.data, options: testOptions())
            sessions = UploadSessions(store: store, idleTimeout: idleTimeout, maxSessions: maxSessions)
        }

        deinit { try? store.close() }

        /// Claims `id`, writes `bytes` in one go, and releases it.
        func append(_ bytes: [UInt8], to id: String, now: UInt64 = 0) throws {
            let session = try sessions.claim(id, repository: repository, now: now)
            try bytes.withUnsafeBytes { buffer in
                Result { () throws(BlobStoreError) in try session.writer.write(buffer) }
            }.get()
            sessions.release(session)
        }
    }

    let content = pseudoRandomBytes(count: 3000, seed: 7)

    @Test func chunksInOrderThenACommitWithTheRightDigestStoreTheBlob() throws {
        let fixture = try Fixture()
        let id = try fixture.sessions.open(repository: fixture.repository, now: 0)
        #expect(id.utf8.count == 32 && Route.isSessionID(Substring(id)))
        try fixture.append(Array(content[..<1000]), to: id)
        #expect(try fixture.sessions.offset(of: id, repository: fixture.repository) == 1000)
        try fixture.append(Array(content[1000...]), to: id)
        let session = try fixture.sessions.claim(id, repository: fixture.repository, now: 1)
        fixture.sessions.end(session)
        let digest = StreamingHasher.digest(of: content)
        #expect(try session.writer.commit(expecting: digest) == digest)
        #expect(fixture.store.contains(digest))
        #expect(fixture.sessions.count == 0)
        #expect(throws: UploadSessions.Failure.unknown) { try fixture.sessions.offset(of: id, repository: fixture.repository) }
    }

    @Test func aClaimedSessionRefusesASecondClaimAndReportsItsSettledOffset() throws {
        let fixture = try Fixture()
        let id = try fixture.sessions.open(repository: fixture.repository, now: 0)
        try fixture.append([1, 2, 3], to: id)
        let session = try fixture.sessions.claim(id, repository: fixture.repository, now: 1)
        #expect(throws: UploadSessions.Failure.busy) { try fixture.sessions.claim(id, repository: fixture.repository, now: 1) }
        try [UInt8]([4, 5]).withUnsafeBytes { buffer in Result { () throws(BlobStoreError) in try session.writer.write(buffer) } }.get()
        // The bytes of a request in progress count only once it releases the session.
        #expect(try fixture.sessions.offset(of: id, repository: fixture.repository) == 3)
        fixture.sessions.release(session)
        #expect(try fixture.sessions.offset(of: id, repository: fixture.repository) == 5)
        #expect(throws: Never.self) { try fixture.sessions.claim(id, repository: fixture.repository, now: 2) }
    }

    @Test func aSessionBelongsToItsRepository() throws {
        let fixture = try Fixture()
        let id = try fixture.sessions.open(repository: fixture.repository, now: 0)
        let other = RepositoryName("other")!
        #expect(throws: UploadSessions.Failure.unknown) { try fixture.sessions.offset(of: id, repository: other) }
        #expect(throws: UploadSessions.Failure.unknown) { try fixture.sessions.claim(id, repository: other, now: 0) }
        #expect(throws: UploadSessions.Failure.unknown) { try fixture.sessions.offset(of: "0123", repository: fixture.repository) }
    }

    @Test func idleSessionsExpireButClaimedOnesWait() throws {
        let fixture = try Fixture(idleTimeout: 10)
        let idle = try fixture.sessions.open(repository: fixture.repository, now: 0)
        let active = try fixture.sessions.open(repository: fixture.repository, now: 0)
        let claimed = try fixture.sessions.open(repository: fixture.repository, now: 0)
        try fixture.append([1, 2], to: active, now: 8)
        let holding = try fixture.sessions.claim(claimed, repository: fixture.repository, now: 0)
        #expect(fixture.sessions.expire(now: 9).isEmpty)
        let expired = fixture.sessions.expire(now: 10)
        #expect(expired.count == 1)
        expired.forEach { $0.abandon() }
        #expect(throws: UploadSessions.Failure.unknown) { try fixture.sessions.offset(of: idle, repository: fixture.repository) }
        #expect(try fixture.sessions.offset(of: active, repository: fixture.repository) == 2)
        #expect(fixture.sessions.count == 2)
        // A release restarts the idle clock at the latest time the table heard of (10 here),
        // so the long-claimed session outlives the one last used at 8.
        fixture.sessions.release(holding)
        #expect(fixture.sessions.expire(now: 19).count == 1)
        #expect(try fixture.sessions.offset(of: claimed, repository: fixture.repository) == 0)
        #expect(fixture.sessions.expire(now: 20).count == 1)
    }

    @Test func expiryFreesAtMostTheLimitPerCall() throws {
        let fixture = try Fixture(idleTimeout: 1)
        for _ in 0..<5 { _ = try fixture.sessions.open(repository: fixture.repository, now: 0) }
        #expect(fixture.sessions.expire(now: 5, limit: 2).count == 2)
        #expect(fixture.sessions.expire(now: 5, limit: 2).count == 2)
        #expect(fixture.sessions.expire(now: 5, limit: 2).count == 1)
    }

    @Test func sessionsBeyondTheCapAreRefused() throws {
        let fixture = try Fixture(maxSessions: 2)
        _ = try fixture.sessions.open(repository: fixture.repository, now: 0)
        _ = try fixture.sessions.open(repository: fixture.repository, now: 0)
        #expect(throws: UploadSessions.Failure.tooMany) { try fixture.sessions.open(repository: fixture.repository, now: 0) }
    }
}
