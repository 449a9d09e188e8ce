// Escaping for Jinja, the template language Airflow renders templated operator fields with.

/// Jinja (as Airflow renders templated fields such as `bash_command` and `env`): text that renders to itself.
public enum JinjaQuoting {
    /// What Airflow's BashOperator takes for a template file name (`template_ext`): a templated value (also
    /// inside `env`) ending in one of these is loaded from the DAG folder instead of rendered
    /// (`TemplateNotFound`), so such text is always wrapped: it then ends in `{% endraw %}`.
    public static let templateExtensions = [".sh", ".bash"]

    /// `text` as a Jinja template whose output is exactly `text`.
    ///
    /// Text without `{`, without `\r`, without a trailing newline and not ending in a template extension
    /// renders to itself and is returned as is.
    /// Anything else is wrapped in `{% raw %}…{% endraw %}`; inside, every `{%` is split as
    /// `{{% endraw %}%{% raw %}` so no spelling of `endraw` in the text (`{%endraw%}`, `{%- endraw -%}`) can
    /// close the block early, and every `\r` is printed by the expression `{{ '\r' }}` (Jinja turns `\r` and
    /// `\r\n` in template source into `\n`). A trailing newline is then inside the block, where Jinja keeps it.
    public static func verbatim(_ text: String) -> String {
        guard needsWrapping(text) else { return text }
        return wrap(text)
    }

    /// Always wrapped (commands: the wrapping shows that Jinja never touches them).
    public static func wrap(_ text: String) -> String {
        // Without `{%` and CR the text goes inside the block as it is (checked by bytes: all three are ASCII,
        // and no byte of a multi-byte character is ASCII).
        var copy = text
        let plain = copy.withUTF8 { bytes in
            var previous: UInt8 = 0
            for byte in bytes {
                if byte == 13 || (byte == UInt8(ascii: "%") && previous == UInt8(ascii: "{")) { return false }
                previous = byte
            }
            return true
        }
        if plain { return ["{% raw %}", text, "{% endraw %}"].joinedInOnePass(separator: "") }
        return wrapScalars(text)
    }

    private static func wrapScalars(_ text: String) -> String {
        var body = "{% raw %}"
        var previous: Unicode.Scalar?
        for scalar in text.unicodeScalars {
            switch scalar {
            case "%" where previous == "{": body += "{% endraw %}%{% raw %}"
            case "\r": body += "{% endraw %}{{ '\\r' }}{% raw %}"
            default: body.unicodeScalars.append(scalar)
            }
            previous = scalar
        }
        return body + "{% endraw %}"
    }

    public static func needsWrapping(_ text: String) -> Bool {
        text.unicodeScalars.contains { $0 == "{" || $0 == "\r" } || text.unicodeScalars.last == "\n"
            || templateExtensions.contains { text.unicodeScalars.reversed().starts(with: $0.unicodeScalars.reversed()) }
    }
}
