import Testing
@testable import BlobStore

@Suite struct ByteSizeTests {
    struct Accepted: Sendable, CustomTestStringConvertible {
        let text: String
        let bytes: UInt64
        var testDescription: String { "'\(text)' is \(bytes) bytes" }
    }

    static let accepted: [Accepted] = [
        .init(text: "0", bytes: 0),
        .init(text: "1048576", bytes: 1_048_576),
        .init(text: "1023B", bytes: 1023),
        .init(text: "1KiB", bytes: 1024),
        .init(text: "512MiB", bytes: 512 << 20),
        .init(text: "10GiB", bytes: 10 << 30),
        .init(text: "2TiB", bytes: 2 << 40),
        .init(text: "1Ki", bytes: 1024),
        .init(text: "3Mi", bytes: 3 << 20),
        .init(text: "4Gi", bytes: 4 << 30),
        .init(text: "5Ti", bytes: 5 << 40),
        .init(text: "1k", bytes: 1024),
        .init(text: "1K", bytes: 1024),
        .init(text: "64M", bytes: 64 << 20),
        .init(text: "2G", bytes: 2 << 30),
        .init(text: "1T", bytes: 1 << 40),
        .init(text: "1KB", bytes: 1000),
        .init(text: "1kB", bytes: 1000),
        .init(text: "5MB", bytes: 5_000_000),
        .init(text: "10GB", bytes: 10_000_000_000),
        .init(text: "3TB", bytes: 3_000_000_000_000),
        .init(text: "1.5GiB", bytes: 3 << 29),
        .init(text: "0.5KiB", bytes: 512),
        .init(text: "1.5B", bytes: 1),
        .init(text: "1.9", bytes: 1),
        .init(text: "0.001KiB", bytes: 1),
        .init(text: "0.0009KiB", bytes: 0),
        .init(text: "1.999999999999999999999999999KiB", bytes: 2047),
        .init(text: "0.1TiB", bytes: 109_951_162_777),
        .init(text: "2.5GB", bytes: 2_500_000_000),
        .init(text: "007MiB", bytes: 7 << 20),
        .init(text: "18446744073709551615", bytes: .max),
        .init(text: "16777215.999999TiB", bytes: 18_446_744_073_708_452_104),
        .init(text: "18446744073709551.615KB", bytes: .max),
    ]

    @Test(arguments: accepted)
    func parsesEveryAcceptedSpelling(_ example: Accepted) throws {
        #expect(try ByteSize(parsing: example.text).bytes == example.bytes)
    }

    static let rejected: [RejectedSizeText] = [
        .init(text: "", reason: .empty),
        .init(text: "512 MiB", reason: .containsSpace),
        .init(text: " 512MiB", reason: .containsSpace),
        .init(text: "512MiB\n", reason: .containsSpace),
        .init(text: "-1", reason: .negative),
        .init(text: "-5MiB", reason: .negative),
        .init(text: "+5MiB", reason: .notANumber),
        .init(text: "MiB", reason: .notANumber),
        .init(text: "abc", reason: .notANumber),
        .init(text: ".5GiB", reason: .notANumber),
        .init(text: "1.GiB", reason: .notANumber),
        .init(text: "1.", reason: .notANumber),
        .init(text: "1e6", reason: .unknownUnit("e6")),
        .init(text: "5XB", reason: .unknownUnit("XB")),
        .init(text: "5mib", reason: .unknownUnit("mib")),
        .init(text: "5kb", reason: .unknownUnit("kb")),
        .init(text: "5b", reason: .unknownUnit("b")),
        .init(text: "5PiB", reason: .unknownUnit("PiB")),
        .init(text: "1.2.3", reason: .unknownUnit(".3")),
        .init(text: "0x10", reason: .unknownUnit("x10")),
        .init(text: "18446744073709551616", reason: .tooLarge),
        .init(text: "99999999999999999999999", reason: .tooLarge),
        .init(text: "16777216TiB", reason: .tooLarge),
        .init(text: "18446744073709551.616KB", reason: .tooLarge),
        .init(text: "80%", reason: .percentNotAllowed),
    ]

    @Test(arguments: rejected)
    func rejectsBadTextWithAnErrorThatNamesIt(_ example: RejectedSizeText) {
        #expect {
            try ByteSize(parsing: example.text)
        } throws: { error in
            guard let error = error as? ByteSizeError else { return false }
            return error.text == example.text && error.reason == example.reason
                && error.description.contains("'\(example.text)'")
        }
    }

    @Test func anUnknownUnitIsNamedInTheMessageWithTheUnitsThatWork() {
        let error = ByteSizeError(text: "5XB", reason: .unknownUnit("XB"))
        #expect(error.description.contains("'XB'"))
        #expect(error.description.contains("MiB"))
    }

    static let formats: [(bytes: UInt64, text: String)] = [
        (0, "0B"),
        (1, "1B"),
        (1023, "1023B"),
        (1024, "1KiB"),
        (1536, "1.5KiB"),
        (1025, "1KiB"),
        (1034, "1KiB"),
        (1035, "1.01KiB"),
        (512 << 20, "512MiB"),
        ((1 << 20) - 1, "1023.99KiB"),
        (3 << 29, "1.5GiB"),
        (5 << 28, "1.25GiB"),
        (10 << 30, "10GiB"),
        (1 << 40, "1TiB"),
        (1 << 50, "1024TiB"),
        (.max, "16777215.99TiB"),
    ]

    @Test(arguments: formats)
    func formatsSizesForPeopleRoundingDown(bytes: UInt64, text: String) {
        #expect(ByteSize.format(bytes) == text)
        #expect(ByteSize(bytes).description == text)
    }

    @Test(arguments: [UInt64(0), 1, 1023, 1024, 1500, 999_999, 1 << 30, 3 << 29, 123_456_789_012, .max])
    func formattedSizesParseBackWithoutGrowing(bytes: UInt64) throws {
        let back = try ByteSize(parsing: ByteSize.format(bytes)).bytes
        #expect(back <= bytes)
        // Two decimals of the unit: never off by more than 1% of it.
        #expect(bytes - back <= max(1, bytes / 100))
    }

    @Test func sizesCompareByTheirBytes() {
        #expect(ByteSize(1) < ByteSize(2))
        #expect(ByteSize(ByteSize.kibibyte) == ByteSize(1024))
        #expect(ByteSize.tebibyte == 1024 * ByteSize.gibibyte)
    }
}

@Suite struct SizeLimitTests {
    struct Accepted: Sendable, CustomTestStringConvertible {
        let text: String
        let limit: SizeLimit
        var testDescription: String { "'\(text)' is \(limit)" }
    }

    static let accepted: [Accepted] = [
        .init(text: "80%", limit: .percent(80)),
        .init(text: "0%", limit: .percent(0)),
        .init(text: "100%", limit: .percent(100)),
        .init(text: "12.5%", limit: .percent(12.5)),
        .init(text: "100.0%", limit: .percent(100)),
        .init(text: "1048576", limit: .bytes(1_048_576)),
        .init(text: "512MiB", limit: .bytes(512 << 20)),
        .init(text: "1.5GiB", limit: .bytes(3 << 29)),
        .init(text: "10GB", limit: .bytes(10_000_000_000)),
    ]

    @Test(arguments: accepted)
    func parsesSizesAndPercentages(_ example: Accepted) throws {
        #expect(try SizeLimit(parsing: example.text) == example.limit)
    }

    static let rejected: [RejectedSizeText] = [
        .init(text: "", reason: .empty),
        .init(text: "101%", reason: .percentOutOfRange),
        .init(text: "100.5%", reason: .percentOutOfRange),
        .init(text: "9999999999999999999999999%", reason: .percentOutOfRange),
        .init(text: "-5%", reason: .negative),
        .init(text: "%", reason: .notANumber),
        .init(text: "80 %", reason: .containsSpace),
        .init(text: "80%%", reason: .unknownUnit("%%")),
        .init(text: "80%MiB", reason: .unknownUnit("%MiB")),
        .init(text: "5XB", reason: .unknownUnit("XB")),
        .init(text: "16777216TiB", reason: .tooLarge),
    ]

    @Test(arguments: rejected)
    func rejectsBadLimitsWithAnErrorThatNamesThem(_ example: RejectedSizeText) {
        #expect {
            try SizeLimit(parsing: example.text)
        } throws: { error in
            guard let error = error as? ByteSizeError else { return false }
            return error.text == example.text && error.reason == example.reason
                && error.description.contains("'\(example.text)'")
        }
    }

    static let resolutions: [(limit: SizeLimit, total: UInt64, bytes: UInt64)] = [
        (.bytes(5), 1000, 5),
        (.bytes(5000), 1000, 5000),
        (.percent(80), 1000, 800),
        (.percent(12.5), 1001, 125),
        (.percent(0), 1000, 0),
        (.percent(100), .max, .max),
        (.percent(80), 0, 0),
        (.percent(150), 1000, 1000),
        (.percent(-5), 1000, 0),
        (.percent(.nan), 1000, 0),
    ]

    @Test(arguments: resolutions)
    func resolvesAgainstTheFilesystemSize(limit: SizeLimit, total: UInt64, bytes: UInt64) {
        #expect(limit.resolve(totalBytes: total) == bytes)
    }

    @Test(arguments: ["80%", "12.5%", "0%", "100%", "10GiB", "1.5GiB", "1048577", "1023", "0"])
    func describesItselfAsTextThatParsesBack(text: String) throws {
        let limit = try SizeLimit(parsing: text)
        #expect(try SizeLimit(parsing: limit.description) == limit)
    }

    @Test func describesWholeUnitsAndPercentagesCompactly() {
        #expect(SizeLimit.bytes(10 << 30).description == "10GiB")
        #expect(SizeLimit.bytes(1_048_577).description == "1048577")
        #expect(SizeLimit.percent(80).description == "80%")
        #expect(SizeLimit.percent(12.5).description == "12.5%")
    }
}

/// Text that a size parser must refuse, and the reason it must give.
struct RejectedSizeText: Sendable, CustomTestStringConvertible {
    let text: String
    let reason: ByteSizeError.Reason
    var testDescription: String { "'\(text)' is rejected as \(reason)" }
}
