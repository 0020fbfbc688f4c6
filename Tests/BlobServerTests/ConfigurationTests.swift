import BlobStore
import Testing
@testable import BlobServer

@Suite struct JSONParsing {
    @Test(arguments: [
        ("{}", JSONValue.object([])),
        (" [1, -2.5e3, true, false, null] ", .array([.number("1"), .number("-2.5e3"), .bool(true), .bool(false), .null])),
        (#"{"a": {"b": ["x"]}}"#, .object([("a", .object([("b", .array([.string("x")]))]))])),
        (#""\u00e9\ud83d\ude00\n\"\\/""#, .string("é😀\n\"\\/")),
        (#""plain ütf-8""#, .string("plain ütf-8")),
    ])
    func validDocumentsParse(text: String, expected: JSONValue) throws {
        #expect(try JSONParser.parse(Array(text.utf8)) == expected)
    }

    @Test(arguments: [
        ("", "unexpected end of document"),
        ("{", "expected a key in double quotes"),
        (#"{"a":1,}"#, "expected a key in double quotes"),
        (#"{"a":1 "b":2}"#, "expected ',' or '}' in object"),
        (#"{"a":1,"a":2}"#, "duplicate key 'a'"),
        ("[1,]", "unexpected character ']'"),
        ("01", "numbers may not have leading zeros"),
        ("1.", "a fraction needs digits"),
        ("-", "a number needs digits"),
        ("tru", "unknown literal"),
        ("\"abc", "unterminated string"),
        ("\"a\tb\"", "control character in string (escape it)"),
        (#""\x""#, "unknown escape '\\x'"),
        (#""\ud800""#, "unpaired surrogate"),
        ("{} {}", "unexpected text after the document"),
        ("// comment\n{}", "unexpected character '/'"),
        (String(repeating: "[", count: 40), "nesting deeper than 32"),
    ])
    func invalidDocumentsAreRefusedWithAReason(text: String, reason: String) {
        #expect { try JSONParser.parse(Array(text.utf8)) } throws: { error in
            (error as? JSONParser.ParseError)?.reason == reason
        }
    }

    @Test func errorsPointAtTheLineAndColumn() {
        #expect(throws: JSONParser.ParseError(line: 3, column: 8, reason: "unknown literal")) {
            try JSONParser.parse(Array("{\n  \"a\": 1,\n  \"b\": nope\n}".utf8))
        }
    }

    @Test func invalidUTF8InAStringIsRefused() {
        #expect { try JSONParser.parse([0x22, 0xC3, 0x28, 0x22]) } throws: { error in
            (error as? JSONParser.ParseError)?.reason == "string is not valid UTF-8"
        }
    }
}

@Suite struct ConfigurationLoading {
    /// A loader whose files come from a dictionary.
    func loader(files: [String: String] = [:]) -> ConfigurationLoader {
        var loader = ConfigurationLoader()
        loader.readFile = { path throws(ConfigurationValueError) in
            guard let text = files[path] else { throw ConfigurationValueError("cannot read: no such file") }
            return Array(text.utf8)
        }
        return loader
    }

    @Test func theShippedDefaultFileHoldsExactlyTheEmbeddedDefaults() throws {
        let repository = String(#filePath).split(separator: "/").dropLast(3).joined(separator: "/")
        let loaded = try ConfigurationLoader().load(arguments: ["--config", "/\(repository)/config/blobcache.json"], environment: [:])
        #expect(loaded == ServerConfiguration.defaults)
    }

    @Test func noArgumentsGiveTheEmbeddedDefaults() throws {
        let configuration = try loader().load(arguments: [], environment: [:])
        #expect(configuration == .defaults)
        #expect(configuration.listen.description == "127.0.0.1:5000")
        #expect(configuration.dataDirectory == "./blobcache-data")
        #expect(configuration.maxSize == .percent(80))
    }

    @Test func flagsBeatTheEnvironmentWhichBeatsTheFile() throws {
        let files = ["/c.json": #"{"max_size": "10GiB", "min_free": "1GiB", "log_level": "debug", "listen": "127.0.0.1:7000"}"#]
        let environment = ["BLOBCACHE_MAX_SIZE": "20GiB", "BLOBCACHE_MIN_FREE": "2GiB", "BLOBCACHE_CONFIG": "/c.json"]
        let configuration = try loader(files: files).load(arguments: ["--max-size=30GiB"], environment: environment)
        #expect(configuration.maxSize == .bytes(30 << 30))
        #expect(configuration.minFree == .bytes(2 << 30))
        #expect(configuration.logLevel == .debug)
        #expect(configuration.listen.port == 7000)
    }

    @Test func sizesInTheFileMayBeBareNumbersOfBytes() throws {
        let configuration = try loader(files: ["/c.json": #"{"max_size": 1048576, "memory_budget": "64MiB"}"#])
            .load(arguments: ["--config", "/c.json"], environment: [:])
        #expect(configuration.maxSize == .bytes(1 << 20))
        #expect(configuration.memoryBudget == 64 << 20)
        #expect(configuration.storeOptions.memoryBudget.total == 64 << 20)
    }

    @Test func upstreamsRepeatAndFlagsReplaceTheLowerSourcesList() throws {
        let environment = ["BLOBCACHE_UPSTREAM": "docker.io=https://registry-1.docker.io,https://mirror.example"]
        let fromEnvironment = try loader().load(arguments: [], environment: environment)
        #expect(fromEnvironment.upstreams.map(\.description) == ["docker.io=https://registry-1.docker.io", "https://mirror.example"])
        let fromFlags = try loader().load(
            arguments: ["--upstream", "ghcr.io=https://ghcr.io", "--upstream", "http://127.0.0.1:5001"], environment: environment)
        #expect(fromFlags.upstreams.map(\.registry) == ["ghcr.io", nil])
    }

    @Test(arguments: [
        (["--max-size", "80 %"], "--max-size", "80 %"),
        (["--listen", "localhost:5000"], "--listen", "localhost:5000"),
        (["--listen", "127.0.0.1:99999"], "--listen", "127.0.0.1:99999"),
        (["--log-level", "loud"], "--log-level", "loud"),
        (["--memory-budget", "1MiB"], "--memory-budget", "1MiB"),
        (["--upstream", "ftp://x"], "--upstream", "ftp://x"),
        (["--upstream", "https://user:pw@host"], "--upstream", "https://user:pw@host"),
        (["--upstream", "https://a", "--upstream", "https://b"], "--upstream", "https://b"),
        (["--data-dir", ""], "--data-dir", ""),
        (["--peers", "a b"], "--peers", "a b"),
    ])
    func aBadFlagValueNamesTheFlagAndTheValue(arguments: [String], key: String, value: String) {
        #expect { try loader().load(arguments: arguments, environment: [:]) } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            return error.key == key && error.value == value && error.description.contains(key)
        }
    }

    @Test(arguments: [
        (["--bogus", "1"], "--bogus", "unknown option (see blobcache --help)"),
        (["--listen"], "--listen", "needs a value"),
        (["--listen", "--data-dir", "x"], "--listen", "needs a value"),
        (["--data-dir", "a", "--data-dir", "b"], "--data-dir", "given twice"),
    ])
    func malformedCommandLinesSayWhatIsWrong(arguments: [String], key: String, reason: String) {
        #expect { try loader().load(arguments: arguments, environment: [:]) } throws: { error in
            (error as? ConfigurationError).map { $0.key == key && $0.reason == reason } ?? false
        }
    }

    @Test func aBadEnvironmentValueOrUnknownVariableNamesTheVariable() {
        #expect { try loader().load(arguments: [], environment: ["BLOBCACHE_MIN_FREE": "lots"]) } throws: { error in
            (error as? ConfigurationError).map { $0.key == "BLOBCACHE_MIN_FREE" && $0.value == "lots" && $0.reason.contains("'lots'") } ?? false
        }
        #expect { try loader().load(arguments: [], environment: ["BLOBCACHE_MAX_SIZ": "1GiB"]) } throws: { error in
            (error as? ConfigurationError).map { $0.key == "BLOBCACHE_MAX_SIZ" && $0.reason == "unknown setting" } ?? false
        }
        #expect(throws: Never.self) { try loader().load(arguments: [], environment: ["PATH": "/bin", "BLOBCACHE_POD_IP": "10.0.0.1"]) }
    }

    @Test(arguments: [
        (#"{"max_sise": "1GiB"}"#, "max_sise in /c.json", "unknown key"),
        (#"{"max_size": true}"#, "max_size in /c.json", "must be a string, not a boolean"),
        (#"{"listen": 5000}"#, "listen in /c.json", "must be a string, not a number"),
        (#"{"upstream": [1]}"#, "upstream in /c.json", "array items must be strings, not a number"),
        (#"["not an object"]"#, "--config", "the file must hold one JSON object"),
        (#"{"listen": "127.0.0.1:5000",}"#, "--config", "not valid JSON: line 1, column 29: expected a key in double quotes"),
    ])
    func aBadFileNamesTheKeyAndTheFile(text: String, key: String, reason: String) {
        #expect { try loader(files: ["/c.json": text]).load(arguments: ["--config", "/c.json"], environment: [:]) } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            return error.key == key && error.reason == reason
        }
    }

    @Test func writeAuthenticationComesFromFlagsEnvironmentAndFile() throws {
        let files = ["/c.json": #"{"auth_token": ["file-token"], "auth_basic": "ci:from file", "anonymous_push": true, "pull_auth": false}"#]
        let fromFile = try loader(files: files).load(arguments: ["--config", "/c.json"], environment: [:])
        #expect(fromFile.authTokens == ["file-token"])
        #expect(fromFile.authBasic == [try BasicCredential(parsing: "ci:from file")])
        #expect(fromFile.authBasic.first?.user == "ci" && fromFile.authBasic.first?.password == "from file")
        #expect(fromFile.anonymousPush && !fromFile.pullAuth)

        let environment = ["BLOBCACHE_CONFIG": "/c.json", "BLOBCACHE_AUTH_TOKEN": "env-a,env-b", "BLOBCACHE_PULL_AUTH": "true"]
        let fromEnvironment = try loader(files: files).load(arguments: [], environment: environment)
        #expect(fromEnvironment.authTokens == ["env-a", "env-b"] && fromEnvironment.pullAuth)

        let fromFlags = try loader(files: files).load(
            arguments: ["--auth-token", "flag-token", "--anonymous-push=false", "--pull-auth", "--auth-basic", "u:p:w"],
            environment: environment)
        #expect(fromFlags.authTokens == ["flag-token"])
        #expect(!fromFlags.anonymousPush && fromFlags.pullAuth)
        #expect(fromFlags.authBasic.map(\.pair) == ["u:p:w"])
        // Upstreams are a separate list: replacing tokens leaves them alone.
        #expect(try loader().load(arguments: ["--auth-token", "t", "--upstream", "https://a"], environment: [:]).upstreams.count == 1)
    }

    /// Found by the ConfigurationLoader fuzzer: "=" and a combining mark after it are one
    /// Character, so a split by characters found no "=" and called the flag unknown.
    @Test func aValueStartingWithACombiningMarkIsSplitFromItsFlag() throws {
        let configuration = try loader().load(arguments: ["--data-dir=\u{64B}mn"], environment: [:])
        #expect(configuration.dataDirectory == "\u{64B}mn")
    }

    @Test func aBareBooleanFlagMeansTrue() throws {
        let configuration = try loader().load(arguments: ["--anonymous-push", "--log-level", "warn"], environment: [:])
        #expect(configuration.anonymousPush && configuration.logLevel == .warn)
        #expect(try loader().load(arguments: ["--pull-auth"], environment: [:]).pullAuth)
    }

    @Test(arguments: [
        (["--anonymous-push", "yes"], "--anonymous-push", "yes", "must be true or false"),
        (["--auth-token", "has space"], "--auth-token", "(hidden)", "a token is letters, digits and -._~+/ (then = padding)"),
        (["--auth-token", ""], "--auth-token", "(hidden)", "a token is letters, digits and -._~+/ (then = padding)"),
        (["--auth-basic", "nocolon"], "--auth-basic", "(hidden)", "needs USER:PASSWORD with a non-empty user"),
        (["--auth-basic", ":password"], "--auth-basic", "(hidden)", "needs USER:PASSWORD with a non-empty user"),
    ])
    func badAuthValuesNameTheKeyButNeverEchoASecret(arguments: [String], key: String, value: String, reason: String) {
        #expect { try loader().load(arguments: arguments, environment: [:]) } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            return error.key == key && error.value == value && error.reason == reason && !error.description.contains("password")
        }
    }

    @Test func aBadBooleanInTheFileSaysWhatItWants() {
        #expect { try loader(files: ["/c.json": #"{"pull_auth": "maybe"}"#]).load(arguments: ["--config", "/c.json"], environment: [:]) } throws: { error in
            (error as? ConfigurationError).map { $0.key == "pull_auth in /c.json" && $0.reason == "must be true or false" } ?? false
        }
        #expect { try loader(files: ["/c.json": #"{"pull_auth": 1}"#]).load(arguments: ["--config", "/c.json"], environment: [:]) } throws: { error in
            (error as? ConfigurationError).map { $0.reason == "must be true or false, not a number" } ?? false
        }
    }

    @Test func aMissingConfigFileIsNamed() {
        #expect { try loader().load(arguments: ["--config=/nope.json"], environment: [:]) } throws: { error in
            (error as? ConfigurationError).map { $0.key == "--config" && $0.value == "/nope.json" } ?? false
        }
    }
}
