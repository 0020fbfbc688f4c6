/// Durations as configuration spells them: whole seconds with an optional unit, `90`, `90s`,
/// `5m`, `12h`, `7d`. A pure parser.
enum DurationText {
    /// The number of seconds `text` means.
    static func seconds(parsing text: String) throws(ConfigurationValueError) -> UInt64 {
        let units: [Character: UInt64] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        var digits = Substring(text)
        var unit: UInt64 = 1
        if let last = digits.last, let multiplier = units[last] {
            unit = multiplier
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber),
              let count = UInt64(digits), count <= UInt64(Int32.max)
        else {
            throw ConfigurationValueError("not a duration: use whole seconds with an optional unit s, m, h or d (90, 5m, 12h)")
        }
        return count * unit
    }
}
