/// A YAML value as `YAMLSubsetReader` sees it: every scalar stays text, as written.
enum YAMLValue: Equatable, CustomStringConvertible {
    case scalar(String)
    case sequence([YAMLValue])
    case mapping([String: YAMLValue])

    var description: String {
        switch self {
        case .scalar(let text): "\"\(text)\""
        case .sequence(let items): "[" + items.map(\.description).joined(separator: ", ") + "]"
        case .mapping(let members): "{" + members.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
        }
    }

    /// The member `key` of a mapping; throws, naming the key, if it is missing or this is no mapping.
    func field(_ key: String) throws(YAMLSubsetError) -> YAMLValue {
        guard case .mapping(let members) = self else { throw YAMLSubsetError(line: 0, reason: "'\(key)' asked of a non-mapping \(self)") }
        guard let value = members[key] else { throw YAMLSubsetError(line: 0, reason: "no '\(key)' in \(self)") }
        return value
    }

    func text() throws(YAMLSubsetError) -> String {
        guard case .scalar(let text) = self else { throw YAMLSubsetError(line: 0, reason: "not a scalar: \(self)") }
        return text
    }

    func items() throws(YAMLSubsetError) -> [YAMLValue] {
        guard case .sequence(let items) = self else { throw YAMLSubsetError(line: 0, reason: "not a sequence: \(self)") }
        return items
    }

    /// A mapping of scalars (labels, selectors) as a dictionary of text.
    func textMapping() throws(YAMLSubsetError) -> [String: String] {
        guard case .mapping(let members) = self else { throw YAMLSubsetError(line: 0, reason: "not a mapping: \(self)") }
        var result: [String: String] = [:]
        for (key, value) in members { result[key] = try value.text() }
        return result
    }
}

struct YAMLSubsetError: Error, CustomStringConvertible {
    /// 1-based; 0 when the error is about a parsed value rather than a line.
    let line: Int
    let reason: String
    var description: String { line == 0 ? reason : "line \(line): \(reason)" }
}

/// Reads the part of YAML that `config/kubernetes/` uses: `---` documents, block mappings with
/// plain keys, block sequences (indented or level with their key), flow sequences of scalars on
/// one line, plain, single- and double-quoted scalars, `|` and `|-` literal blocks, and comments.
/// Anything else (flow mappings, anchors, tags, folded scalars, tabs, odd indentation) is refused
/// with its line number, so a manifest the reader does not understand fails the test instead of
/// being misread.
struct YAMLSubsetReader {
    private var lines: [String]
    private var index = 0

    static func documents(_ text: String) throws(YAMLSubsetError) -> [YAMLValue] {
        var reader = YAMLSubsetReader(lines: text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init))
        var documents: [YAMLValue] = []
        while reader.index < reader.lines.count {
            if reader.lines[reader.index] == "---" {
                reader.index += 1
                continue
            }
            guard let (indent, _) = try reader.current() else { continue }
            guard indent == 0 else { throw reader.error("a document must start at column 1") }
            documents.append(try reader.block(indent: 0))
            if try reader.current() != nil { throw reader.error("text after the document's top-level value") }
        }
        return documents
    }

    private init(lines: [String]) { self.lines = lines }

    private func error(_ reason: String) -> YAMLSubsetError { YAMLSubsetError(line: index + 1, reason: reason) }

    /// The next line with content, its indentation and its text without the comment; skips blank
    /// and comment lines. nil at the end or at a `---` line, which ends the document.
    private mutating func current() throws(YAMLSubsetError) -> (indent: Int, content: Substring)? {
        while index < lines.count {
            let line = lines[index]
            if line == "---" { return nil }
            let indent = line.prefix { $0 == " " }.count
            let content = try withoutComment(line.dropFirst(indent))
            if content.isEmpty {
                index += 1
                continue
            }
            if content.first == "\t" { throw error("tabs are not indentation") }
            return (indent, content)
        }
        return nil
    }

    private func withoutComment(_ text: Substring) throws(YAMLSubsetError) -> Substring {
        var quote: Character?
        var previous: Character = " "
        var escaped = false
        for position in text.indices {
            let character = text[position]
            if let open = quote {
                if escaped { escaped = false } else if open == "\"" && character == "\\" { escaped = true } else if character == open { quote = nil }
            } else if character == "#" && (previous == " " || previous == "\t") {
                return trimmedTrailing(text[..<position])
            } else if (character == "\"" || character == "'") && (previous == " " || previous == "[" || previous == "," || position == text.startIndex) {
                quote = character
            }
            previous = character
        }
        return trimmedTrailing(text)
    }

    private func trimmedTrailing(_ text: Substring) -> Substring {
        var end = text.endIndex
        while end > text.startIndex, text[text.index(before: end)] == " " || text[text.index(before: end)] == "\t" { end = text.index(before: end) }
        return text[..<end]
    }

    private mutating func block(indent: Int) throws(YAMLSubsetError) -> YAMLValue {
        guard let (_, content) = try current() else { throw error("expected a value") }
        return content == "-" || content.hasPrefix("- ") ? try sequence(indent: indent) : try mapping(indent: indent)
    }

    private mutating func mapping(indent: Int) throws(YAMLSubsetError) -> YAMLValue {
        var members: [String: YAMLValue] = [:]
        while let (lineIndent, content) = try current(), lineIndent >= indent {
            guard lineIndent == indent else { throw error("unexpected indentation") }
            guard let colon = Self.keySeparator(in: content) else { throw error("expected 'key: value' in a mapping, not '\(content)'") }
            let key = String(content[..<colon])
            guard !key.isEmpty, !"\"'?{[&*!|>%@`-".contains(key.first!) else { throw error("unsupported key '\(key)'") }
            guard members[key] == nil else { throw error("duplicate key '\(key)'") }
            let rest = content[content.index(after: colon)...].drop { $0 == " " }
            members[key] = try value(rest, under: indent, allowingLevelSequence: true)
        }
        return .mapping(members)
    }

    private mutating func sequence(indent: Int) throws(YAMLSubsetError) -> YAMLValue {
        var items: [YAMLValue] = []
        while let (lineIndent, content) = try current(), lineIndent >= indent {
            guard lineIndent == indent else { throw error("unexpected indentation") }
            guard content == "-" || content.hasPrefix("- ") else { break }
            let rest = content.dropFirst().drop { $0 == " " }
            if !rest.isEmpty, Self.startsABlock(rest) {
                // `- key: value` or `- - item`: the item is a block starting on this line, so
                // blank out the dash and read the line again as that block's first line.
                var line = Array(lines[index])
                line[indent] = " "
                lines[index] = String(line)
                items.append(try block(indent: lines[index].prefix { $0 == " " }.count))
            } else {
                items.append(try value(rest, under: indent, allowingLevelSequence: false))
            }
        }
        return .sequence(items)
    }

    /// The value after `key:` or `-` on the current line, indented `indent`: on the same line, or
    /// a block on the following, more indented lines (or, after a key, a sequence level with it).
    /// Moves past the line and the value.
    private mutating func value(_ rest: Substring, under indent: Int, allowingLevelSequence: Bool) throws(YAMLSubsetError) -> YAMLValue {
        let keyLine = error("a key or dash with no value")
        if !rest.isEmpty, rest != "|", rest != "|-" {
            let value = try scalar(rest)
            index += 1
            return value
        }
        index += 1
        if !rest.isEmpty { return .scalar(literal(under: indent, keepingFinalNewline: rest == "|")) }
        guard let (next, content) = try current() else { throw keyLine }
        if next > indent { return try block(indent: next) }
        if next == indent, allowingLevelSequence, content == "-" || content.hasPrefix("- ") { return try sequence(indent: indent) }
        throw keyLine
    }

    /// A `|` block: the following lines indented more than `indent`, less their common indentation.
    private mutating func literal(under indent: Int, keepingFinalNewline: Bool) -> String {
        var body: [Substring] = []
        var blockIndent: Int?
        while index < lines.count {
            let line = lines[index]
            let lineIndent = line.prefix { $0 == " " }.count
            if lineIndent == line.count {
                body.append("")
            } else {
                if blockIndent == nil { blockIndent = lineIndent }
                guard lineIndent > indent, lineIndent >= blockIndent! else { break }
                body.append(line.dropFirst(blockIndent!))
            }
            index += 1
        }
        while body.last == "" { body.removeLast() }
        return body.joined(separator: "\n") + (keepingFinalNewline && !body.isEmpty ? "\n" : "")
    }

    private func scalar(_ text: Substring) throws(YAMLSubsetError) -> YAMLValue {
        if text.first == "[" {
            guard text.last == "]" else { throw error("a flow sequence must close on its line") }
            let inner = text.dropFirst().dropLast()
            if inner.allSatisfy({ $0 == " " }) { return .sequence([]) }
            var items: [YAMLValue] = []
            for item in try Self.splitFlowItems(inner, error: error("unterminated quote in a flow sequence")) {
                let trimmed = trimmedTrailing(item.drop { $0 == " " })
                guard !trimmed.isEmpty, trimmed.first != "[" else { throw error("unsupported flow sequence item '\(trimmed)'") }
                guard case .scalar(let value) = try scalar(trimmed) else { throw error("unsupported flow sequence item '\(trimmed)'") }
                items.append(.scalar(value))
            }
            return .sequence(items)
        }
        if text.first == "\"" { return .scalar(try doubleQuoted(text)) }
        if text.first == "'" {
            guard text.count >= 2, text.last == "'" else { throw error("unterminated single quote") }
            let inner = text.dropFirst().dropLast()
            guard !inner.replacing("''", with: "").contains("'") else { throw error("a lone ' inside single quotes") }
            return .scalar(String(inner.replacing("''", with: "'")))
        }
        guard !"{&*!|>%@`?".contains(text.first!), !text.contains(": "), !text.hasSuffix(":") else {
            throw error("unsupported plain scalar '\(text)'")
        }
        return .scalar(String(text))
    }

    private func doubleQuoted(_ text: Substring) throws(YAMLSubsetError) -> String {
        var result = ""
        var escaped = false
        var position = text.index(after: text.startIndex)
        while position < text.endIndex {
            let character = text[position]
            if escaped {
                switch character {
                case "\"", "\\", "/": result.append(character)
                case "n": result.append("\n")
                case "t": result.append("\t")
                default: throw error("unsupported escape '\\\(character)'")
                }
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "\"" {
                guard text.index(after: position) == text.endIndex else { throw error("text after a closing quote") }
                return result
            } else {
                result.append(character)
            }
            position = text.index(after: position)
        }
        throw error("unterminated double quote")
    }

    /// The items of a one-line flow sequence, split at commas outside quotes.
    private static func splitFlowItems(_ text: Substring, error: YAMLSubsetError) throws(YAMLSubsetError) -> [Substring] {
        var items: [Substring] = []
        var start = text.startIndex
        var quote: Character?
        var escaped = false
        for position in text.indices {
            let character = text[position]
            if let open = quote {
                if escaped { escaped = false } else if open == "\"" && character == "\\" { escaped = true } else if character == open { quote = nil }
            } else if character == "\"" || character == "'" {
                quote = character
            } else if character == "," {
                items.append(text[start..<position])
                start = text.index(after: position)
            }
        }
        guard quote == nil else { throw error }
        items.append(text[start...])
        return items
    }

    /// Where `key: value` or `key:` splits, if the line has that shape (outside quotes).
    private static func keySeparator(in content: Substring) -> Substring.Index? {
        guard content.first != "\"", content.first != "'", content.first != "[" else { return nil }
        for position in content.indices where content[position] == ":" {
            let next = content.index(after: position)
            if next == content.endIndex || content[next] == " " { return position }
        }
        return nil
    }

    private static func startsABlock(_ rest: Substring) -> Bool {
        rest == "-" || rest.hasPrefix("- ") || keySeparator(in: rest) != nil
    }
}
