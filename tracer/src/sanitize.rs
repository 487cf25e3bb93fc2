//! Escaping for terminal and text output. Paths, mount points, command
//! names and command lines come from other users and from logs: printed
//! raw, an escape sequence in a bind mount's name could clear root's
//! screen, a newline could forge a row, and a bidi override could make a
//! row read differently from what it holds. JSON output does not use this:
//! serde escapes it exactly.

use std::borrow::Cow;
use std::fmt;

/// Whether `c` is shown as an escape rather than as itself: C0 controls
/// (newline and tab included), DEL, C1 controls, the line and paragraph
/// separators, and the invisible marks that reorder or hide text (bidi
/// embeddings, overrides and isolates, LRM/RLM, the Arabic letter mark).
fn needs_escape(c: char) -> bool {
    matches!(c,
        '\0'..='\x1f'
        | '\x7f'..='\u{9f}'
        | '\u{061c}'
        | '\u{200e}' | '\u{200f}'
        | '\u{2028}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}')
}

/// `s` with every character of [`needs_escape`] made visible: `\n`, `\t`,
/// `\r`, `\xNN` for the other ASCII controls and DEL, `\u{NNNN}` for the
/// rest. Borrowed when there is nothing to escape, which is almost always.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

fn push_escaped(out: &mut String, c: char) {
    use fmt::Write as _;
    match c {
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        c if c.is_ascii() && needs_escape(c) => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if needs_escape(c) => {
            let _ = write!(out, "\\u{{{:04x}}}", c as u32);
        }
        c => out.push(c),
    }
}

/// Displays a string escaped, for `format!` arguments: `{}` of `Esc(path)`.
/// Width and alignment (`{:<16}`) apply to the escaped text.
pub struct Esc<'a>(pub &'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&escape(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_and_unchanged() {
        for s in [
            "",
            "unshare",
            "/run/netns/blue",
            "net:[4026531840]",
            "ünïcode ✓ 名前",
        ] {
            assert!(matches!(escape(s), Cow::Borrowed(x) if x == s), "{s}");
        }
    }

    #[test]
    fn controls_newlines_and_bidi_marks_become_visible() {
        let cases = [
            ("a\nb", "a\\nb"),
            ("\x1b[2Jgone", "\\x1b[2Jgone"),
            ("tab\there\r", "tab\\there\\r"),
            ("nul\0del\x7f", "nul\\x00del\\x7f"),
            ("c1\u{85}\u{9b}31m", "c1\\u{0085}\\u{009b}31m"),
            ("txt.\u{202e}gpj", "txt.\\u{202e}gpj"),
            ("\u{2066}x\u{2069}", "\\u{2066}x\\u{2069}"),
            ("\u{200e}\u{200f}\u{061c}", "\\u{200e}\\u{200f}\\u{061c}"),
            ("line\u{2028}sep\u{2029}", "line\\u{2028}sep\\u{2029}"),
            (
                "\u{202a}\u{202b}\u{202c}\u{202d}",
                "\\u{202a}\\u{202b}\\u{202c}\\u{202d}",
            ),
        ];
        for (raw, shown) in cases {
            assert_eq!(escape(raw), shown, "{raw:?}");
        }
    }

    #[test]
    fn nothing_escaped_is_left_in_the_output() {
        let all: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        let out = escape(&all);
        assert!(!out.chars().any(needs_escape));
        // Every escape starts with a backslash, and no text is lost.
        assert!(out.len() > all.len());
    }

    #[test]
    fn padding_applies_to_the_escaped_text() {
        assert_eq!(format!("[{:<6}]", Esc("a\nb")), "[a\\nb  ]");
        assert_eq!(format!("[{:>4}]", Esc("x")), "[   x]");
    }
}
