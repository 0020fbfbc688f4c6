import Testing
@testable import BlobServer

@Suite struct BufferPoolBehaviour {
    @Test func aPoolHandsOutEachBufferOnceAndRunsDryAtItsCapacity() {
        let pool = BufferPool(bufferSize: 16 << 10, capacity: 3)
        let buffers = (0..<3).compactMap { _ in pool.acquire() }
        #expect(buffers.count == 3)
        #expect(pool.acquire() == nil)
        let regions = Set(buffers.map { Int(bitPattern: pool.bytes(of: $0).baseAddress) })
        #expect(regions.count == 3, "two handles share memory")
        pool.release(buffers[1])
        #expect(pool.available == 1)
        #expect(pool.acquire() == buffers[1], "the last buffer freed is reused first")
    }

    @Test func aBudgetBuysWholePageRoundedBuffersAndAtLeastOne() {
        #expect(BufferPool(bufferSize: 16 << 10, budgetBytes: 32 << 20).capacity == 2048)
        #expect(BufferPool(bufferSize: 5000, budgetBytes: 81920).capacity == 10)
        #expect(BufferPool(bufferSize: 5000, budgetBytes: 0).capacity == 1)
        #expect(BufferPool(bufferSize: 5000, budgetBytes: 0).bufferSize == 8192)
    }

    @Test func buffersHoldWhatIsWrittenIntoThem() {
        let pool = BufferPool(bufferSize: 4096, capacity: 2)
        let a = pool.acquire()!, b = pool.acquire()!
        pool.bytes(of: a).initializeMemory(as: UInt8.self, repeating: 0xAA)
        pool.bytes(of: b).initializeMemory(as: UInt8.self, repeating: 0xBB)
        #expect(pool.bytes(of: a).allSatisfy { $0 == 0xAA })
        #expect(pool.bytes(of: b).allSatisfy { $0 == 0xBB })
    }
}

@Suite struct TimeoutListBehaviour {
    @Test func membersExpireInTheOrderTheirDeadlinesWereSet() {
        var list = TimeoutList(duration: 100, capacity: 8)
        list.arm(3, now: 0)
        list.arm(5, now: 10)
        list.arm(1, now: 20)
        #expect(list.popExpired(now: 99) == nil)
        #expect(list.timeUntilNextDeadline(now: 50) == 50)
        #expect(list.popExpired(now: 110) == 3)
        #expect(list.popExpired(now: 110) == 5)
        #expect(list.popExpired(now: 110) == nil)
        #expect(list.popExpired(now: 500) == 1)
        #expect(list.timeUntilNextDeadline(now: 500) == nil)
    }

    @Test func reArmingMovesAMemberToTheBackAndRemovingForgetsIt() {
        var list = TimeoutList(duration: 100, capacity: 8)
        list.arm(0, now: 0)
        list.arm(1, now: 0)
        list.arm(2, now: 0)
        list.arm(0, now: 50)
        list.remove(1)
        list.remove(6)
        #expect(!list.contains(1))
        #expect(list.popExpired(now: 1000) == 2)
        #expect(list.popExpired(now: 1000) == 0)
        #expect(list.popExpired(now: 1000) == nil)
    }

    @Test func randomOperationsAgreeWithASortedModel() {
        var list = TimeoutList(duration: 1000, capacity: 64)
        var model: [Int: UInt64] = [:]
        var state: UInt64 = 42
        func random(_ bound: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33) % bound
        }
        var now: UInt64 = 0
        for _ in 0..<20_000 {
            now += UInt64(random(50))
            let slot = random(64)
            switch random(3) {
            case 0: list.arm(slot, now: now); model[slot] = now + 1000
            case 1: list.remove(slot); model[slot] = nil
            default:
                let expected = model.filter { $0.value <= now }.min { ($0.value, 0) < ($1.value, 0) }
                let popped = list.popExpired(now: now)
                #expect(popped.map { model[$0]! } == expected?.value)
                if let popped { model[popped] = nil }
            }
            #expect(model.keys.allSatisfy { list.contains($0) })
        }
    }
}

@Suite("Buffer pool: idle pages go back to the kernel")
struct BufferPoolIdlePagesTests {
    @Test func freeBuffersBeyondTheKeptOnesLoseTheirPages() {
        let pool = BufferPool(bufferSize: 8192, capacity: 4)
        let buffers = (0..<4).map { _ in pool.acquire()! }
        for (value, buffer) in buffers.enumerated() {
            let bytes = pool.bytes(of: buffer)
            for index in bytes.indices { bytes[index] = UInt8(value + 1) }
        }
        for buffer in buffers { pool.release(buffer) }
        pool.returnIdlePages(keeping: 1)
        // The last released buffer is kept (it is handed out next); the others read as zero
        // pages, which is what MADV_DONTNEED leaves behind.
        #expect(pool.bytes(of: buffers[3]).allSatisfy { $0 == 4 })
        for buffer in buffers.prefix(3) { #expect(pool.bytes(of: buffer).allSatisfy { $0 == 0 }) }
        let again = pool.acquire()!
        #expect(again == buffers[3])
    }
}
