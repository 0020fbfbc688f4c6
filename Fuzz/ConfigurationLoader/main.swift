// libFuzzer target for configuration files. The input is a file's bytes: JSONParser must
// accept or refuse it with a position, never crash; a document it accepts must be written
// back and re-parsed to an equal value, and obey the value limit exactly. The loader, given
// the input as its `--config` file, must succeed or throw ConfigurationError; a file it accepts
// must mean the same as the flags, and the environment variables, that spell its settings.
// Built by Fuzz/build.sh.
@testable import BlobServer

/// The JSON text of `value`: strings escaped, numbers as they were written.
func written(_ value: JSONValue) -> String {
    switch value {
    case .null: "null"
    case .bool(let flag): flag ? "true" : "false"
    case .number(let text): text
    case .string(let text): quoted(text)
    case .array(let items): "[" + items.map(written).joined(separator: ",") + "]"
    case .object(let members): "{" + members.map { quoted($0.key) + ":" + written($0.value) }.joined(separator: ",") + "}"
    }
}

func quoted(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

/// How many values the parser counted for `value`: itself and every value inside it.
func valueCount(_ value: JSONValue) -> Int {
    switch value {
    case .array(let items): 1 + items.map(valueCount).reduce(0, +)
    case .object(let members): 1 + members.map { valueCount($0.value) }.reduce(0, +)
    default: 1
    }
}

func depth(_ value: JSONValue) -> Int {
    switch value {
    case .array(let items): 1 + (items.map(depth).max() ?? 0)
    case .object(let members): 1 + (members.map { depth($0.value) }.max() ?? 0)
    default: 0
    }
}

func checkParser(_ bytes: [UInt8]) {
    let parsed: JSONValue
    do {
        parsed = try JSONParser.parse(bytes)
    } catch {
        precondition(error.line >= 1 && error.column >= 1 && !error.reason.isEmpty, "a parse error without a position: \(error)")
        return
    }
    precondition(depth(parsed) <= JSONParser.maxDepth, "nesting deeper than \(JSONParser.maxDepth) accepted")
    let text = written(parsed)
    let reparsed = try? JSONParser.parse(Array(text.utf8))
    precondition(reparsed == parsed, "\(parsed) written as \(text) parses as \(String(describing: reparsed))")
    let limits = JSONParser.Limits(maxBytes: JSONParser.maxDocumentBytes, maxValues: 16)
    let limited = try? JSONParser.parse(bytes, limits: limits)
    precondition((limited != nil) == (valueCount(parsed) <= limits.maxValues), "the value limit misapplied to \(valueCount(parsed)) values")
}

/// The texts a file member gives its setting, as `applyFile` reads them; nil when the loader
/// would refuse the member.
func texts(of value: JSONValue) -> [String]? {
    switch value {
    case .string(let text), .number(let text): [text]
    case .bool(let flag): [flag ? "true" : "false"]
    case .array(let items): items.compactMap { if case .string(let text) = $0 { text } else { nil } }
    case .null, .object: nil
    }
}

func checkLoader(_ bytes: [UInt8]) {
    var loader = ConfigurationLoader()
    loader.readFile = { _ throws(ConfigurationValueError) in bytes }
    let fromFile: ServerConfiguration
    do {
        fromFile = try loader.load(arguments: ["--config", "fuzz.json"], environment: [:])
    } catch {
        precondition(!error.description.isEmpty, "a configuration error without a description")
        return
    }
    guard case .object(let members) = try! JSONParser.parse(bytes) else { preconditionFailure("a file that is not an object loaded") }
    var flags: [String] = []
    var environment: [String: String] = [:]
    var environmentSpellsIt = true
    for (key, value) in members {
        let setting = ConfigurationLoader.settings.first { $0.key == key }!
        let texts = texts(of: value)!
        flags += texts.map { "\(setting.flag)=\($0)" }
        // The environment separates list items with commas and drops empty ones.
        if setting.repeatable && texts.contains(where: { $0.isEmpty || $0.contains(",") }) { environmentSpellsIt = false }
        environment[setting.environment] = texts.joined(separator: ",")
    }
    do {
        let fromFlags = try ConfigurationLoader().load(arguments: flags, environment: [:])
        precondition(fromFlags == fromFile, "flags \(flags) mean something else than the file")
    } catch {
        preconditionFailure("the file loads but its flags \(flags) do not: \(error)")
    }
    guard environmentSpellsIt else { return }
    do {
        let fromEnvironment = try ConfigurationLoader().load(arguments: [], environment: environment)
        precondition(fromEnvironment == fromFile, "environment \(environment) means something else than the file")
    } catch {
        preconditionFailure("the file loads but its environment \(environment) does not: \(error)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    checkParser(bytes)
    checkLoader(bytes)
    return 0
}
