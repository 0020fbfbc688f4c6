import Testing
@testable import BlobServer

@Suite struct ResponseHeads {
    let date = Array("Mon, 23 Nov 2026 12:00:00 GMT".utf8)

    @Test func aHeadHasTheStatusLineDateFieldsAndTheEmptyLine() throws {
        var head = HTTPResponseHead(status: 206, date: date)
        try head.add("Content-Range", "bytes 0-9/2048")
        head.add("Content-Length", 10)
        #expect(String(decoding: head.encoded(closing: false), as: UTF8.self)
            == "HTTP/1.1 206 Partial Content\r\nDate: Mon, 23 Nov 2026 12:00:00 GMT\r\nContent-Range: bytes 0-9/2048\r\nContent-Length: 10\r\n\r\n")
        #expect(String(decoding: head.encoded(closing: true), as: UTF8.self).hasSuffix("Content-Length: 10\r\nConnection: close\r\n\r\n"))
    }

    @Test(arguments: ["/v2/a\r\nSet-Cookie: x=1", "a\nb", "a\rb", "nul\u{0}", "del\u{7F}", " leading", "trailing\t"])
    func aValueThatCouldSplitTheResponseIsRefused(_ value: String) {
        var head = HTTPResponseHead(status: 201, date: date)
        let before = head.bytes
        #expect(throws: HTTPResponseHead.InvalidFieldValue(name: "Location")) { try head.add("Location", value) }
        #expect(head.bytes == before)
    }

    @Test func tabsInsideAValueAndUTF8AreAllowed() throws {
        var head = HTTPResponseHead(status: 200, date: date)
        try head.add("X-Note", "a\tb ünï")
    }
}

@Suite struct OutgoingWriteQueue {
    @Test func literalSegmentsGatherIntoOneWriteAndFilesGoBySendfile() {
        var writes = OutgoingWrites()
        writes.append(Array("HEAD".utf8))
        writes.append(Array("--b".utf8))
        writes.append(file: 7, offset: 100, count: 50)
        writes.append(Array("--b--".utf8))
        #expect(writes.pendingBytes == 62)
        #expect(writes.next() == .write([Array("HEAD".utf8)[...], Array("--b".utf8)[...]]))
        writes.advance(by: 7)
        #expect(writes.next() == .sendFile(descriptor: 7, offset: 100, count: 50))
        writes.advance(by: 20)
        #expect(writes.next() == .sendFile(descriptor: 7, offset: 120, count: 30))
        writes.advance(by: 30)
        #expect(writes.next() == .write([Array("--b--".utf8)[...]]))
        writes.advance(by: 5)
        #expect(writes.next() == .done)
        #expect(writes.isEmpty)
        #expect(writes.pendingBytes == 0)
    }

    @Test func aPartialWriteResumesMidSegment() {
        var writes = OutgoingWrites()
        writes.append(Array("abcdef".utf8))
        writes.append(Array("gh".utf8))
        writes.advance(by: 4)
        #expect(writes.next() == .write([Array("abcdef".utf8)[4...], Array("gh".utf8)[...]]))
        writes.advance(by: 3)
        #expect(writes.next() == .write([Array("gh".utf8)[1...]]))
    }

    @Test func emptySegmentsAreNeverQueued() {
        var writes = OutgoingWrites()
        writes.append([])
        writes.append(file: 3, offset: 0, count: 0)
        #expect(writes.isEmpty)
        #expect(writes.next() == .done)
    }

    @Test func randomPartialWritesDeliverEveryByteInOrder() {
        var state: UInt64 = 7
        func random(_ bound: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33) % bound
        }
        for _ in 0..<200 {
            var writes = OutgoingWrites()
            var expected: [UInt8] = []
            let fileBytes = (0..<4096).map { UInt8($0 % 256) }
            for _ in 0..<(1 + random(6)) {
                if random(2) == 0 {
                    let literal = (0..<(1 + random(40))).map { _ in UInt8(random(256)) }
                    writes.append(literal)
                    expected += literal
                } else {
                    let offset = random(2000), count = 1 + random(2000)
                    writes.append(file: 9, offset: UInt64(offset), count: UInt64(count))
                    expected += fileBytes[offset..<(offset + count)]
                }
            }
            var sent: [UInt8] = []
            loop: while true {
                switch writes.next(maxGather: 1 + random(3)) {
                case .done: break loop
                case .write(let slices):
                    let available = slices.flatMap { $0 }
                    let count = 1 + random(available.count)
                    sent += available.prefix(count)
                    writes.advance(by: count)
                case .sendFile(let descriptor, let offset, let count):
                    #expect(descriptor == 9)
                    let taken = 1 + random(Int(count))
                    sent += fileBytes[Int(offset)..<(Int(offset) + taken)]
                    writes.advance(by: taken)
                }
            }
            #expect(sent == expected)
        }
    }
}
