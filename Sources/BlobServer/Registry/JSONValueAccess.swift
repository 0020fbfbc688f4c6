/// Reading parsed documents (manifests, records) without a decoder.
extension JSONValue {
    /// The member `key` of an object; nil for other values or a missing key.
    subscript(_ key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    /// The string, when the value is one.
    var stringValue: String? {
        guard case .string(let text) = self else { return nil }
        return text
    }
}
