/// Builds a `/metrics` page in the Prometheus text exposition format 0.0.4: `# HELP` and
/// `# TYPE` once per family, then one sample per line, label values escaped.
struct PrometheusText {
    enum Kind: String {
        case counter, gauge, histogram
    }

    private(set) var text = ""
    private var families = Set<String>()

    /// Starts a metric family. Each family is declared once, before its samples.
    mutating func family(_ name: String, _ kind: Kind, help: String) {
        precondition(families.insert(name).inserted, "metric family \(name) declared twice")
        text += "# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(kind.rawValue)\n"
    }

    /// A family with a single unlabelled sample.
    mutating func single(_ name: String, _ kind: Kind, help: String, _ value: Double) {
        family(name, kind, help: help)
        sample(name, value)
    }

    mutating func single(_ name: String, _ kind: Kind, help: String, _ value: UInt64) {
        single(name, kind, help: help, Double(value))
    }

    /// One sample: `name{label="value",…} value`.
    mutating func sample(_ name: String, labels: KeyValuePairs<String, String> = [:], _ value: Double) {
        text += name
        if !labels.isEmpty {
            text += "{" + labels.map { "\($0.key)=\"\(Self.escapeLabel($0.value))\"" }.joined(separator: ",") + "}"
        }
        text += " " + Self.format(value) + "\n"
    }

    mutating func sample(_ name: String, labels: KeyValuePairs<String, String> = [:], _ value: UInt64) {
        sample(name, labels: labels, Double(value))
    }

    /// The samples of a histogram family: cumulative `_bucket`s with `le`, then `_sum` and `_count`.
    mutating func histogram(_ name: String, _ snapshot: LatencyHistogram.Snapshot) {
        var cumulative: UInt64 = 0
        for (bound, count) in zip(snapshot.bounds, snapshot.counts) {
            cumulative += count
            sample("\(name)_bucket", labels: ["le": Self.format(bound)], cumulative)
        }
        // counts has one more entry than bounds: the observations above the last bound.
        cumulative += snapshot.counts.last ?? 0
        sample("\(name)_bucket", labels: ["le": "+Inf"], cumulative)
        sample("\(name)_sum", snapshot.sum)
        sample("\(name)_count", cumulative)
    }

    /// Integers without a fraction; others as Swift prints them; NaN and infinities by name.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    static func escapeLabel(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }

    static func escapeHelp(_ value: String) -> String {
        value.replacing("\\", with: "\\\\").replacing("\n", with: "\\n")
    }
}
