import BlobStore
import Synchronization
import Testing
@testable import BlobServer

/// The rule one node applies to peers that ask it for a blob: serve up to the fan-out, then
/// send the rest to peers it served, evenly; remember a bounded number of blobs and peers.
@Suite struct PeerTreePolicyTests {
    typealias Policy = PeerTreePolicy<String, Int>

    @Test("serves up to the fan-out, then redirects to the peers it served, fewest redirects first, oldest on a tie")
    func servesThenRedirectsEvenly() {
        let policy = Policy(limits: .init(fanout: 3))
        #expect((1...3).map { policy.admit("blob", requester: $0) } == [.serve, .serve, .serve])
        #expect(policy.transfers(of: "blob") == 3)
        let redirects = (4...12).map { policy.admit("blob", requester: $0) }
        #expect(redirects == [1, 2, 3, 1, 2, 3, 1, 2, 3].map { .redirect(to: $0) })
        #expect(policy.transfers(of: "blob") == 3)
    }

    @Test("a finished transfer frees a slot; the peer that finished stays a redirect target")
    func finishedFreesASlot() {
        let policy = Policy(limits: .init(fanout: 2))
        _ = policy.admit("blob", requester: 1)
        _ = policy.admit("blob", requester: 2)
        policy.finished("blob", requester: 1)
        #expect(policy.transfers(of: "blob") == 1)
        #expect(policy.admit("blob", requester: 3) == .serve)
        #expect(policy.admit("blob", requester: 4) == .redirect(to: 1))
    }

    @Test("a finished call without a transfer, or for another blob, changes nothing")
    func unmatchedFinished() {
        let policy = Policy(limits: .init(fanout: 1))
        _ = policy.admit("blob", requester: 1)
        policy.finished("blob", requester: 2)
        policy.finished("other", requester: 1)
        #expect(policy.transfers(of: "blob") == 1)
        #expect(policy.hotBlobCount == 1)
    }

    @Test("never redirects a peer to itself; busy when it is the only peer known")
    func neverToItself() {
        let policy = Policy(limits: .init(fanout: 1))
        #expect(policy.admit("blob", requester: 1) == .serve)
        #expect(policy.admit("blob", requester: 1) == .busy)
        #expect(policy.admit("blob", requester: 2) == .redirect(to: 1))
    }

    @Test("blobs are counted apart")
    func blobsAreIndependent() {
        let policy = Policy(limits: .init(fanout: 1))
        #expect(policy.admit("a", requester: 1) == .serve)
        #expect(policy.admit("b", requester: 2) == .serve)
        #expect(policy.admit("a", requester: 3) == .redirect(to: 1))
        #expect(policy.admit("b", requester: 3) == .redirect(to: 2))
    }

    @Test("remembers at most fetchersPerBlob peers per blob, the most recent")
    func fetchersAreBounded() {
        let policy = Policy(limits: .init(fanout: 1, fetchersPerBlob: 2))
        for peer in 1...3 {
            #expect(policy.admit("blob", requester: peer) == .serve)
            policy.finished("blob", requester: peer)
        }
        _ = policy.admit("blob", requester: 4)
        // Peers 1 and 2 were forgotten for 3 and 4.
        #expect(policy.admit("blob", requester: 5) == .redirect(to: 3))
        #expect(policy.admit("blob", requester: 6) == .redirect(to: 4))
        #expect(policy.admit("blob", requester: 7) == .redirect(to: 3))
    }

    @Test("forgets the least recently used idle blob beyond hotBlobs, never one being sent")
    func hotBlobsAreBounded() {
        let policy = Policy(limits: .init(fanout: 1, hotBlobs: 2))
        _ = policy.admit("sending", requester: 1)
        _ = policy.admit("old", requester: 1)
        policy.finished("old", requester: 1)
        _ = policy.admit("new", requester: 1)
        policy.finished("new", requester: 1)
        #expect(policy.hotBlobCount == 2)
        // "old" was forgotten: its next requester is served, not redirected to peer 1.
        #expect(policy.admit("old", requester: 2) == .serve)
        // Still one transfer of "sending": the limit holds.
        #expect(policy.admit("sending", requester: 2) == .redirect(to: 1))
    }

    @Test("8 threads admitting and finishing at once never exceed the fan-out")
    func concurrentCallersRespectTheLimit() {
        let policy = Policy(limits: .init(fanout: 4))
        let inFlight = Atomic<Int>(0)
        let worst = Atomic<Int>(0)
        let threads = (0..<8).map { thread in
            SystemThread(name: "admit\(thread)") {
                for round in 0..<500 {
                    let peer = thread * 10_000 + round
                    guard policy.admit("blob", requester: peer) == .serve else { continue }
                    let now = inFlight.add(1, ordering: .relaxed).newValue
                    _ = worst.max(now, ordering: .relaxed)
                    _ = inFlight.subtract(1, ordering: .relaxed)
                    policy.finished("blob", requester: peer)
                }
            }
        }
        for thread in threads { thread.join() }
        #expect(worst.load(ordering: .relaxed) <= 4)
        #expect(policy.transfers(of: "blob") == 0)
    }
}
