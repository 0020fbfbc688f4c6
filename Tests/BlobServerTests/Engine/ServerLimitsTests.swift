import BlobStore
import Testing
@testable import BlobServer

private let MiB = ByteSize.mebibyte

/// The limits derived from the memory budget: enough connections for the soak's 9,000 and buffers for
/// 1,000 slowloris heads on the
/// default budget, and never more memory than the budget's connection share.
@Suite("Engine: limits derived from the budget")
struct ServerLimitsTests {
    @Test(arguments: [1, 2, 4, 8, 16])
    func theDefaultBudgetAdmits12288Connections(loops: Int) {
        let limits = ServerLimits(budget: MemoryBudget(total: MemoryBudget.defaultTotal), loops: loops)
        #expect(limits.connectionsPerLoop * loops == 12_288)
    }

    @Test func theDefaultBudgetOnTwoLoopsLeavesBuffersForASlowlorisThousand() {
        let limits = ServerLimits(budget: MemoryBudget(total: 128 * MiB), loops: 2)
        // 16 MiB a loop: 6 MiB for 6,144 connections, 10 MiB for 4 large and 621 regular buffers.
        #expect(limits.connectionsPerLoop == 6144)
        #expect(limits.buffersPerLoop == 621)
        #expect(limits.buffersPerLoop * 2 > 1000)
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
        // Connection state gets three eighths of the share, so the buffers (at least a third, after
        // the large ones) are not starved for it.
        let share = budget.connectionBufferBytes / UInt64(loops)
        #expect(UInt64(limits.connectionsPerLoop) * ServerLimits.bytesPerConnection * 8 <= share * 3)
        #expect(UInt64(limits.buffersPerLoop * limits.bufferBytes) * 3 >= share)
    }

    @Test(arguments: [UInt64(0), 1 * MiB, 4 * MiB])
    func aTinyBudgetStillServes(total: UInt64) {
        let limits = ServerLimits(budget: MemoryBudget(total: total), loops: 2)
        #expect(limits.connectionsPerLoop >= 64)
        #expect(limits.buffersPerLoop >= 16)
    }
}
