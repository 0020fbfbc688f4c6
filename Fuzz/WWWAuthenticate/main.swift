// libFuzzer target for `WWW-Authenticate` values. Schemes and parameter names must come out
// lowercased tokens, and the challenges written back in a plain form (every value quoted)
// must parse to the same challenges: what the client understood is what the upstream said.
// The other way round, any text written as a quoted realm must parse back unchanged.
// Built by Fuzz/build.sh.
@testable import BlobServer

/// `scheme name="value", …` for each challenge, joined with `, `; quotes and backslashes escaped.
func written(_ challenges: [AuthenticationChallenge]) -> String {
    challenges.map { challenge in
        let parameters = challenge.parameters.sorted { $0.key < $1.key }.map { name, value in
            var quoted = ""
            for character in value.unicodeScalars {
                if character == "\"" || character == "\\" { quoted.unicodeScalars.append("\\") }
                quoted.unicodeScalars.append(character)
            }
            return "\(name)=\"\(quoted)\""
        }
        return ([challenge.scheme] + [parameters.joined(separator: ", ")]).filter { !$0.isEmpty }.joined(separator: " ")
    }.joined(separator: ", ")
}

func isLowercaseToken(_ text: String) -> Bool {
    !text.isEmpty && text.utf8.allSatisfy { HTTPParseSyntax.isTokenChar($0) && !(0x41...0x5A).contains($0) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let value = String(decoding: UnsafeRawBufferPointer(start: data, count: size), as: UTF8.self)
    let challenges = AuthenticationChallenge.parse(value)
    for challenge in challenges {
        precondition(isLowercaseToken(challenge.scheme), "scheme \(challenge.scheme.debugDescription) is not a lowercase token")
        for name in challenge.parameters.keys {
            precondition(isLowercaseToken(name), "parameter \(name.debugDescription) is not a lowercase token")
        }
    }
    let text = written(challenges)
    let reparsed = AuthenticationChallenge.parse(text)
    precondition(reparsed == challenges, "\(challenges) written as \(text.debugDescription) parses as \(reparsed)")
    let realm = AuthenticationChallenge(scheme: "bearer", parameters: ["realm": value, "service": "registry"])
    let realmText = written([realm])
    let realmParsed = AuthenticationChallenge.parse(realmText)
    precondition(realmParsed == [realm], "\(realm) written as \(realmText.debugDescription) parses as \(realmParsed)")
    return 0
}
