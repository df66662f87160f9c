import Foundation

/// Just enough roff for man(7) pages.
enum Roff {
    /// Escapes text for a roff line: backslashes, hyphens, and a leading control character.
    static func text(_ text: String) -> String {
        var escaped = text.replacingOccurrences(of: "\\", with: "\\e").replacingOccurrences(of: "-", with: "\\-")
        if escaped.hasPrefix(".") || escaped.hasPrefix("'") { escaped = "\\&" + escaped }
        // troff reads bytes: anything beyond ASCII goes in as a named Unicode glyph.
        return escaped.unicodeScalars.map { $0.isASCII ? String($0) : "\\[u" + String(format: "%04X", $0.value) + "]" }.joined()
    }

    /// Paragraphs of free text (blank lines separate paragraphs).
    static func paragraphs(_ text: String) -> [String] {
        text.components(separatedBy: "\n\n").flatMap { paragraph -> [String] in
            let joined = paragraph.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
            return joined.isEmpty ? [] : [".PP", Self.text(joined)]
        }
    }
}
