import Testing
@testable import BlobServer

/// A whole cluster asking for one blob at once, each node applying `PeerTreePolicy`: one
/// upstream fetch, nobody over the fan-out, and a tree as shallow as any tree can be.
@Suite struct PeerTreeSimulationTests {
    @Test("N nodes at once: one upstream fetch, no node over the fan-out, the least possible depth",
          arguments: [(1_000, 8), (10_000, 8), (1_000, 2), (1_000, 32), (10_000, 32), (2, 8), (9, 8), (10, 8)])
    func wholeClusterAtOnce(nodes: Int, fanout: Int) {
        let outcome = PeerTreeSimulation.run(nodes: nodes, fanout: fanout)
        let depth = PeerTreeSimulation.minimumDepth(nodes: nodes, fanout: fanout)
        #expect(outcome.upstreamFetches == 1)
        #expect(outcome.maxConcurrentSends <= fanout)
        #expect(outcome.depth == depth)
        #expect(outcome.totalSteps == depth + 1, "one step upstream, then one per level")
        #expect(outcome.maxRedirectsPerRequest == depth - 1, "a request walks down to a node with room")
        #expect(outcome.retries == 0)
    }

    @Test("the minimum depth is the smallest d with 1 + f + … + f^d ≥ N, and at most ⌈log_f N⌉")
    func minimumDepth() {
        #expect(PeerTreeSimulation.minimumDepth(nodes: 1, fanout: 8) == 0)
        #expect(PeerTreeSimulation.minimumDepth(nodes: 9, fanout: 8) == 1)
        #expect(PeerTreeSimulation.minimumDepth(nodes: 10, fanout: 8) == 2)
        #expect(PeerTreeSimulation.minimumDepth(nodes: 1_000, fanout: 8) == 4)
        #expect(PeerTreeSimulation.minimumDepth(nodes: 10_000, fanout: 8) == 5)
        #expect(PeerTreeSimulation.minimumDepth(nodes: 1_000, fanout: 2) == 9)
        #expect(PeerTreeSimulation.minimumDepth(nodes: 10_000, fanout: 32) == 3)
        for nodes in [2, 100, 1_000, 10_000, 100_000] {
            for fanout in [2, 3, 8, 32] {
                var ceilingLog = 0
                var power = 1
                while power < nodes { power *= fanout; ceilingLog += 1 }
                #expect(PeerTreeSimulation.minimumDepth(nodes: nodes, fanout: fanout) <= ceilingLog)
            }
        }
    }
}
