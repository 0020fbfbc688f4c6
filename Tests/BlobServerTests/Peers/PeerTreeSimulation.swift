import TestSupport
@testable import BlobServer

/// N nodes all ask for one blob at time 0, each node running its own `PeerTreePolicy`, to see
/// the tree the policy builds. Pure and deterministic: no threads, no clock.
///
/// The model: everyone asks the owner first (rendezvous ranking gives all the same owner), in
/// a shuffled order, and follows redirects until served. The owner fills from upstream once,
/// ready at step 1. A transfer from a sender ready at step r, started at step s, completes at
/// max(s, r) + 1: one step per hop, as if a node forwarded only what it holds whole. Streaming
/// from a filling node (what the server does) only shortens this. A requester told `.busy`,
/// or sent to a node without the blob, asks the owner again at the next step.
struct PeerTreeSimulation {
    struct Outcome: Equatable {
        /// Fills from upstream: the owner's one.
        var upstreamFetches = 0
        /// The most transfers any node was sending at once.
        var maxConcurrentSends = 0
        /// The deepest node: the owner is at 0, the peers it serves at 1.
        var depth = 0
        /// The step at which the last node holds the blob.
        var totalSteps = 0
        /// The most redirects any one request followed.
        var maxRedirectsPerRequest = 0
        /// Requests answered `.busy` or sent to a node without the blob.
        var retries = 0
    }

    static func run(nodes: Int, fanout: Int, seed: UInt64 = 1) -> Outcome {
        let owner = 0
        let policies = (0..<nodes).map { _ in PeerTreePolicy<Int, Int>(limits: .init(fanout: fanout)) }
        var readyAt = [Int?](repeating: nil, count: nodes)
        var depth = [Int](repeating: 0, count: nodes)
        var sending = [Int](repeating: 0, count: nodes)
        var transfers: [(sender: Int, receiver: Int, completes: Int)] = []
        var outcome = Outcome()
        outcome.upstreamFetches = 1
        readyAt[owner] = 1

        var generator = SplitMix64(state: seed)
        var waiting = Array(1..<nodes).shuffled(using: &generator)
        var step = 0
        while !waiting.isEmpty || !transfers.isEmpty {
            for transfer in transfers where transfer.completes <= step {
                policies[transfer.sender].finished(0, requester: transfer.receiver)
                sending[transfer.sender] -= 1
            }
            transfers.removeAll { $0.completes <= step }

            var retry: [Int] = []
            for requester in waiting {
                var asked = owner
                var redirects = 0
                while true {
                    switch policies[asked].admit(0, requester: requester) {
                    case .serve:
                        let completes = max(step, readyAt[asked]!) + 1
                        readyAt[requester] = completes
                        depth[requester] = depth[asked] + 1
                        sending[asked] += 1
                        transfers.append((asked, requester, completes))
                        outcome.maxConcurrentSends = max(outcome.maxConcurrentSends, sending[asked])
                        outcome.depth = max(outcome.depth, depth[requester])
                        outcome.totalSteps = max(outcome.totalSteps, completes)
                    case .redirect(let target) where readyAt[target] != nil && redirects < nodes:
                        redirects += 1
                        outcome.maxRedirectsPerRequest = max(outcome.maxRedirectsPerRequest, redirects)
                        asked = target
                        continue
                    case .redirect, .busy:
                        outcome.retries += 1
                        retry.append(requester)
                    }
                    break
                }
            }
            waiting = retry
            step += 1
        }
        return outcome
    }

    /// The least depth of any tree of `nodes` in which each node has at most `fanout`
    /// children: the smallest d with 1 + f + f² + … + f^d ≥ N. It is at most ⌈log_f N⌉.
    static func minimumDepth(nodes: Int, fanout: Int) -> Int {
        var depth = 0
        var reached = 1
        var level = 1
        while reached < nodes {
            depth += 1
            level *= fanout
            reached += level
        }
        return depth
    }
}
