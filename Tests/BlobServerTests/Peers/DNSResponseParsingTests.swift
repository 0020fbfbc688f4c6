import Testing
@testable import BlobServer

/// Builds answers by hand, byte by byte, as a nameserver would send them.
private struct AnswerBuilder {
    var bytes: [UInt8] = []

    mutating func u16(_ value: UInt16) { bytes += [UInt8(value >> 8), UInt8(value & 0xFF)] }
    mutating func u32(_ value: UInt32) { u16(UInt16(value >> 16)); u16(UInt16(value & 0xFFFF)) }
    mutating func name(_ text: String) { bytes += try! DNSName(parsing: text).wireBytes }
    mutating func pointer(to offset: Int) { u16(0xC000 | UInt16(offset)) }

    /// Header and the question echo of `query`; the question's name starts at byte 12.
    static func answering(_ query: DNSQuery, flags: UInt16 = 0x8180, answers: UInt16, id: UInt16? = nil) -> AnswerBuilder {
        var builder = AnswerBuilder()
        builder.u16(id ?? query.id)
        builder.u16(flags)
        builder.u16(1)
        builder.u16(answers)
        builder.u16(0)
        builder.u16(0)
        builder.bytes += query.name.wireBytes
        builder.u16(query.type.rawValue)
        builder.u16(1)
        return builder
    }

    /// A record whose owner is the question's name by pointer, then type, class IN, TTL, data.
    mutating func record(ownerPointer: Int = 12, type: UInt16, ttl: UInt32 = 30, data: [UInt8]) {
        pointer(to: ownerPointer)
        u16(type)
        u16(1)
        u32(ttl)
        u16(UInt16(data.count))
        bytes += data
    }
}

private let aQuery = DNSQuery(name: try! DNSName(parsing: "peers.test"), type: .a, id: 0x1234)
private let aaaaQuery = DNSQuery(name: try! DNSName(parsing: "peers.test"), type: .aaaa, id: 0x4321)

private func v4(_ text: String) -> SocketAddress.Host { try! SocketAddress(parsing: "\(text):1").host }
private func v6(_ text: String) -> SocketAddress.Host { try! SocketAddress(parsing: "[\(text)]:1").host }

/// A two-address answer with the owner compressed, the form every real server sends.
private func twoAddressAnswer() -> [UInt8] {
    var answer = AnswerBuilder.answering(aQuery, answers: 2)
    answer.record(type: 1, ttl: 30, data: [10, 0, 0, 1])
    answer.record(type: 1, ttl: 60, data: [10, 0, 0, 2])
    return answer.bytes
}

@Suite struct DNSResponseParsingTests {
    @Test func aRecordsAreReadWithTheirTTLs() throws {
        let result = try DNSResponse.parse(twoAddressAnswer(), answering: aQuery)
        #expect(result == .addresses([DNSAddressRecord(host: v4("10.0.0.1"), ttlSeconds: 30), DNSAddressRecord(host: v4("10.0.0.2"), ttlSeconds: 60)]))
    }

    @Test func aaaaRecordsAreRead() throws {
        var answer = AnswerBuilder.answering(aaaaQuery, answers: 1)
        answer.record(type: 28, ttl: 5, data: [0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42])
        #expect(try DNSResponse.parse(answer.bytes, answering: aaaaQuery) == .addresses([DNSAddressRecord(host: v6("fd00::42"), ttlSeconds: 5)]))
    }

    @Test func aCNAMEChainIsFollowedToTheAddressesOfItsEnd() throws {
        var answer = AnswerBuilder.answering(aQuery, answers: 4)
        // peers.test CNAME alias.example (written out at byte 40); alias.example CNAME
        // final.example (a label, then a pointer to "example" inside the first target).
        let firstTarget = answer.bytes.count + 12
        answer.record(type: 5, data: try DNSName(parsing: "alias.example").wireBytes)
        let secondTarget = answer.bytes.count + 12
        var finalName: [UInt8] = [5] + Array("final".utf8)
        finalName += [0xC0, UInt8(firstTarget + 6)]
        answer.record(ownerPointer: firstTarget, type: 5, data: finalName)
        // An address of a name outside the chain ("example") must not be returned.
        answer.record(ownerPointer: firstTarget + 6, type: 1, data: [192, 0, 2, 9])
        answer.record(ownerPointer: secondTarget, type: 1, ttl: 7, data: [192, 0, 2, 1])
        #expect(try DNSResponse.parse(answer.bytes, answering: aQuery) == .addresses([DNSAddressRecord(host: v4("192.0.2.1"), ttlSeconds: 7)]))
    }

    @Test func aCNAMELoopThrowsInsteadOfSpinning() throws {
        var answer = AnswerBuilder.answering(aQuery, answers: 1)
        answer.record(type: 5, data: [0xC0, 12])  // peers.test CNAME peers.test
        #expect(throws: DNSError.cnameChainTooLong(aQuery.name)) { try DNSResponse.parse(answer.bytes, answering: aQuery) }
    }

    @Test func aNameWithNoRecordsOfTheTypeIsAnEmptyAnswer() throws {
        let answer = AnswerBuilder.answering(aQuery, answers: 0)
        #expect(try DNSResponse.parse(answer.bytes, answering: aQuery) == .addresses([]))
    }

    @Test func nxdomainIsNameDoesNotExistNotAnError() throws {
        let answer = AnswerBuilder.answering(aQuery, flags: 0x8183, answers: 0)
        #expect(try DNSResponse.parse(answer.bytes, answering: aQuery) == .nameDoesNotExist)
    }

    @Test(arguments: [(UInt16(0x8181), UInt8(1)), (0x8182, 2), (0x8184, 4), (0x8185, 5)])
    func otherResponseCodesAreServerFailures(flags: UInt16, code: UInt8) {
        let answer = AnswerBuilder.answering(aQuery, flags: flags, answers: 0)
        #expect(throws: DNSError.serverFailure(responseCode: code)) { try DNSResponse.parse(answer.bytes, answering: aQuery) }
    }

    @Test func aWrongIDIsRejected() {
        let answer = AnswerBuilder.answering(aQuery, answers: 0, id: 0x9999)
        #expect(throws: DNSError.mismatchedID(expected: 0x1234, received: 0x9999)) { try DNSResponse.parse(answer.bytes, answering: aQuery) }
    }

    @Test func aMessageWithoutTheQRFlagIsNotAResponse() {
        #expect(throws: DNSError.notAResponse) { try DNSResponse.parse(aQuery.encoded, answering: aQuery) }
    }

    @Test func aTruncatedAnswerIsReported() {
        let answer = AnswerBuilder.answering(aQuery, flags: 0x8380, answers: 0)
        #expect(throws: DNSError.truncated) { try DNSResponse.parse(answer.bytes, answering: aQuery) }
    }

    @Test func anAnswerToAnotherQuestionIsRejected() throws {
        let other = DNSQuery(name: try DNSName(parsing: "other.test"), type: .a, id: aQuery.id)
        let answer = AnswerBuilder.answering(other, answers: 0)
        #expect(throws: DNSError.questionMismatch) { try DNSResponse.parse(answer.bytes, answering: aQuery) }
        let otherType = AnswerBuilder.answering(DNSQuery(name: aQuery.name, type: .aaaa, id: aQuery.id), answers: 0)
        #expect(throws: DNSError.questionMismatch) { try DNSResponse.parse(otherType.bytes, answering: aQuery) }
    }

    @Test func theQuestionEchoIsComparedWithoutCase() throws {
        var answer = AnswerBuilder.answering(aQuery, answers: 1)
        answer.bytes[13] = UInt8(ascii: "P")
        answer.record(type: 1, data: [10, 0, 0, 1])
        #expect(try DNSResponse.parse(answer.bytes, answering: aQuery) == .addresses([DNSAddressRecord(host: v4("10.0.0.1"), ttlSeconds: 30)]))
    }

    @Test func aPointerToItselfIsALoopAndThrows() {
        var answer = AnswerBuilder.answering(aQuery, answers: 1)
        let at = answer.bytes.count
        answer.pointer(to: at)
        answer.u16(1); answer.u16(1); answer.u32(1); answer.u16(4)
        answer.bytes += [10, 0, 0, 1]
        #expect(throws: DNSError.malformed("too many compression pointers (a loop?)")) { try DNSResponse.parse(answer.bytes, answering: aQuery) }
    }

    @Test func twoPointersPointingAtEachOtherAreALoopAndThrow() {
        var answer = AnswerBuilder.answering(aQuery, answers: 1)
        let at = answer.bytes.count
        answer.pointer(to: at + 2)
        answer.pointer(to: at)
        #expect(throws: DNSError.malformed("too many compression pointers (a loop?)")) { try DNSResponse.parse(answer.bytes, answering: aQuery) }
    }

    @Test func aPointerPastTheEndThrows() {
        var answer = AnswerBuilder.answering(aQuery, answers: 1)
        answer.pointer(to: 0x3FFF)
        #expect(throws: DNSError.self) { try DNSResponse.parse(answer.bytes, answering: aQuery) }
    }

    @Test func anAddressOfTheWrongLengthThrows() {
        var answer = AnswerBuilder.answering(aQuery, answers: 1)
        answer.record(type: 1, data: [10, 0, 0])
        #expect(throws: DNSError.malformed("A record of 3 bytes")) { try DNSResponse.parse(answer.bytes, answering: aQuery) }
    }

    @Test func everyTruncationOfAnAnswerThrowsAndNeverTraps() {
        let whole = twoAddressAnswer()
        for length in 0..<whole.count {
            #expect(throws: DNSError.self, "cut at \(length) bytes") { try DNSResponse.parse(Array(whole[..<length]), answering: aQuery) }
        }
    }

    @Test func everySingleByteCorruptionOfAnAnswerParsesOrThrowsButNeverTraps() {
        let whole = twoAddressAnswer()
        for index in whole.indices {
            for value: UInt8 in [0x00, 0x3F, 0x40, 0x80, 0xC0, 0xFF] {
                var corrupted = whole
                corrupted[index] = value
                _ = try? DNSResponse.parse(corrupted, answering: aQuery)
            }
        }
    }
}
