import BlobStore
import Testing
@testable import BlobServer

private let MiB = ByteSize.mebibyte

/// The limits derived from the memory budget: enough connections for the soak's 9,000 on the
/// default budget, and never more memory than the budget's connection share.
@Suite("Engine: limits derived from the budget")
struct ServerLimitsTests {
    @Test(arguments: [1, 2, 4, 8, 16])
    func theDefaultBudgetAdmits16384Connections(loops: Int) {
        let limits = ServerLimits(budget: MemoryBudget(total: MemoryBudget.defaultTotal), loops: loops)
        #expect(limits.connectionsPerLoop * loops == 16_384)
    }

    @Test func theDefaultBudgetOnTwoLoopsSplitsItsShareInHalves() {
        let limits = ServerLimits(budget: MemoryBudget(total: 128 * MiB), loops: 2)
        // 16 MiB a loop: 8 MiB for 8,192 connections, 8 MiB for 4 large and 493 regular buffers.
        #expect(limits.connectionsPerLoop == 8192)
        #expect(limits.buffersPerLoop == 493)
        #expect(limits.largeBuffersPerLoop == 4)
    }

    @Test(arguments: [64 * MiB, 128 * MiB, 512 * MiB, 4096 * MiB], [1, 2, 3, 8])
    func buffersAndConnectionsStayWithinTheConnectionShare(total: UInt64, loops: Int) {
        let budget = MemoryBudget(total: total)
        let limits = ServerLimits(budget: budget, loops: loops)
        let perLoop = UInt64(limits.connectionsPerLoop) * ServerLimits.bytesPerConnection
            + UInt64(limits.buffersPerLoop * limits.bufferBytes)
            + UInt64(limits.largeBuffersPerLoop * ServerLimits.largeBufferBytes)
        #expect(perLoop * UInt64(loops) <= budget.connectionBufferBytes)
        // Connection state gets half the share, so the buffers are not starved for it.
        let share = budget.connectionBufferBytes / UInt64(loops)
        #expect(UInt64(limits.connectionsPerLoop) * ServerLimits.bytesPerConnection * 2 <= share)
        #expect(UInt64(limits.buffersPerLoop * limits.bufferBytes) * 3 >= share)
    }

    @Test(arguments: [UInt64(0), 1 * MiB, 4 * MiB])
    func aTinyBudgetStillServes(total: UInt64) {
        let limits = ServerLimits(budget: MemoryBudget(total: total), loops: 2)
        #expect(limits.connectionsPerLoop >= 64)
        #expect(limits.buffersPerLoop >= 16)
    }
}
