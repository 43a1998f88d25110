/// Builders of relay → client frames (NIP-01, NIP-42, NIP-45).
enum RelayMessage {
    static func ok(_ id: String, _ accepted: Bool, _ message: String) -> String {
        "[\"OK\",\(JSONWriter.quoted(id)),\(accepted),\(JSONWriter.quoted(message))]"
    }
    static func event(_ subscription: String, _ e: NostrEvent) -> String {
        "[\"EVENT\",\(JSONWriter.quoted(subscription)),\(e.json)]"
    }
    static func eose(_ subscription: String) -> String { "[\"EOSE\",\(JSONWriter.quoted(subscription))]" }
    static func closed(_ subscription: String, _ message: String) -> String {
        "[\"CLOSED\",\(JSONWriter.quoted(subscription)),\(JSONWriter.quoted(message))]"
    }
    static func notice(_ message: String) -> String { "[\"NOTICE\",\(JSONWriter.quoted(message))]" }
    static func auth(_ challenge: String) -> String { "[\"AUTH\",\(JSONWriter.quoted(challenge))]" }
    static func count(_ subscription: String, _ n: Int) -> String {
        "[\"COUNT\",\(JSONWriter.quoted(subscription)),{\"count\":\(n)}]"
    }

    /// The standard prefix of an OK/CLOSED message ("duplicate", "invalid", ...).
    static func prefix(_ message: String) -> String {
        guard let colon = message.firstIndex(of: ":") else { return "error" }
        return String(message[..<colon])
    }
}
