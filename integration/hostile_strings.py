"""Hostile strings for the escaping tests of every target (issue 13, item 3): each must reach the job byte
for byte through the target's real parser, or be refused by djflow with a located error.

`yaml_scalar` writes one into djflow.yaml independently of djflow's own quoting."""

HOSTILE = {
    "single quote": "it's",
    "double quote": 'say "hi"',
    "both quotes": "'\"'\"",
    "dollar": "a$b",
    "dollar at the end": "cost$",
    "two dollars": "$$",
    "match-time reference": "$$(OpSys)",
    "three dollars": "$$$(x)",
    "dollar macro": "$(HOME) ${HOME} $ENV(HOME)",
    "DOLLAR macro text": "$(DOLLAR)",
    "backticks": "`id`",
    "backslash": "back\\slash",
    "trailing backslash": "ends in \\",
    "carriage return": "lone\rcr",
    "CRLF": "crlf\r\nline",
    "LF": "two\nlines",
    "trailing LF": "line\n",
    "tab": "tab\there",
    "hash": "# not a comment",
    "jinja expression": "{{ params }}",
    "jinja block": "{% if x %}y{% endif %}",
    "jinja raw end": "{% endraw %}",
    "percent": "100% %s %(x)s",
    "unicode": "ünïcødé ✓ 😀",
    "leading dash": "-x",
    "leading tilde": "~root",
    "equals": "=",
    "leading equals": "==a",
    "spaces": "  two  spaces  ",
    "empty": "",
    "semicolon pipe": "a; b | c & d",
    "glob": "*?[x]",
    "script suffix": "setup.sh",
    "bash suffix": "run.bash",
}


def yaml_scalar(text):
    """A YAML double-quoted scalar (escapes for \\, ", control characters and line breaks)."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif 0x20 <= code <= 0x7E or (code > 0xA0 and code not in (0x2028, 0x2029, 0xFEFF, 0x85)):
            out.append(ch)
        elif code <= 0xFF:
            out.append("\\x%02X" % code)
        else:
            out.append("\\u%04X" % code)
    out.append('"')
    return "".join(out)
