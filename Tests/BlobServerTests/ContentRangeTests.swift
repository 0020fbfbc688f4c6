import Testing
@testable import BlobServer

@Suite struct ContentRangeTests {
    @Test(arguments: [
        (ContentRange.bytes(.init(first: 0, last: 0), completeLength: 1), "bytes 0-0/1"),
        (.bytes(.init(first: 500, last: 1499), completeLength: 2048), "bytes 500-1499/2048"),
        (.bytes(.init(first: 0, last: 9), completeLength: nil), "bytes 0-9/*"),
        (.bytes(.init(first: 0, last: .max - 1), completeLength: .max), "bytes 0-18446744073709551614/18446744073709551615"),
        (.unsatisfied(completeLength: 2048), "bytes */2048"),
        (.unsatisfied(completeLength: 0), "bytes */0"),
        (.bytes(.init(first: 10, last: 100), completeLength: 1000), "bytes 10-100/1000"),
    ])
    func formatsAsRFC9110(value: ContentRange, text: String) {
        #expect(value.description == text)
        var bytes: [UInt8] = Array("Content-Range: ".utf8)
        value.append(to: &bytes)
        #expect(bytes == Array("Content-Range: \(text)".utf8))
    }

    @Test func theLongestValueFitsMaxEncodedCount() {
        let longest = ContentRange.bytes(.init(first: .max - 1, last: .max - 1), completeLength: .max)
        #expect(longest.description.utf8.count == ContentRange.maxEncodedCount)
    }

    @Test(arguments: [
        ("0-1023", ContentRange.bytes(.init(first: 0, last: 1023), completeLength: nil)),
        ("1024-2047", .bytes(.init(first: 1024, last: 2047), completeLength: nil)),
        (" 0-0 ", .bytes(.init(first: 0, last: 0), completeLength: nil)),
        ("bytes 0-1023/2048", .bytes(.init(first: 0, last: 1023), completeLength: 2048)),
        ("BYTES 0-1023/*", .bytes(.init(first: 0, last: 1023), completeLength: nil)),
        ("bytes 0-1023", .bytes(.init(first: 0, last: 1023), completeLength: nil)),
        ("bytes */2048", .unsatisfied(completeLength: 2048)),
        ("0-18446744073709551614", .bytes(.init(first: 0, last: .max - 1), completeLength: nil)),
    ])
    func parsesBothTheOCIAndTheRFCForms(text: String, value: ContentRange) {
        #expect(ContentRange(parsing: text) == value)
        #expect(Array(text.utf8).withUnsafeBytes { ContentRange(parsing: $0) } == value)
    }

    @Test(arguments: [
        "", "-", "0-", "-5", "5-2", "bytes=0-5", "bytes 0-5/5", "bytes 0-5/", "bytes */", "bytes */*", "0-5/10",
        "0-18446744073709551615", "0-99999999999999999999", "99999999999999999999-99999999999999999999",
        "0 - 5", "0-5x", "bytes  0-5", "bytes\t0-5", "0-5\r\n", "0-5\0", "items 0-5", "+0-5", "0-5,6-7",
    ])
    func refusesWhatCannotBeAnUploadRange(text: String) {
        #expect(ContentRange(parsing: text) == nil)
    }

    @Test(arguments: [
        ContentRange.bytes(.init(first: 7, last: 7), completeLength: 8),
        .bytes(.init(first: 0, last: 4095), completeLength: nil),
        .unsatisfied(completeLength: 12),
    ])
    func formattedValuesParseBack(value: ContentRange) {
        #expect(ContentRange(parsing: value.description) == value)
    }
}
