/// Masks the secrets that travel inside URLs before text reaches a log line or an error message:
/// `scheme://user:password@host:port/…` becomes `scheme://user:***@host:port/…`, so the operator still
/// sees which server and account were meant. Works on any text (an error from a driver may quote the URL).
public enum SecretMask {
    public static func urlPasswords(in text: String) -> String {
        guard text.contains("://") else { return text }
        var result = ""
        var rest = Substring(text)
        while let scheme = rest.range(of: "://") {
            result += rest[..<scheme.upperBound]
            rest = rest[scheme.upperBound...]
            // The authority ends at the path, query, fragment, or anything that cannot be part of a URL.
            let end = rest.firstIndex { "/?# \t\n\"'<>".contains($0) } ?? rest.endIndex
            let authority = rest[..<end]
            if let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") {
                result += authority[...colon] + "***" + authority[at...]
            } else {
                result += authority
            }
            rest = rest[end...]
        }
        return result + rest
    }
}
