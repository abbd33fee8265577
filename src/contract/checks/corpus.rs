//! The cross-language hostile corpus (CONTRACT.md, reading of E-6): inputs
//! that are harmless to a Rust implementation and break implementations in
//! other languages. Every value is valid where the checks send it; the
//! check that sends it judges it by the rule it touches (stored as sent,
//! echoed as sent, rejected where the contract rejects it).

/// Built-in names of the maps and objects of JavaScript, Python and Go: a
/// server that keys a plain object (`store[id]`) or an attribute lookup by
/// a client's string finds something under them. All visible ASCII, so
/// they are valid idempotency keys too.
pub(crate) const BUILTIN_NAMES: &[&str] = &[
    // JavaScript: Object.prototype and friends.
    "__proto__",
    "constructor",
    "toString",
    "hasOwnProperty",
    "valueOf",
    "isPrototypeOf",
    "__defineGetter__",
    "prototype",
    "length",
    // Python: dunder attributes, None.
    "__class__",
    "__dict__",
    "__init__",
    "None",
    // Go and the wire: zero values and literals of JSON.
    "nil",
    "null",
    "undefined",
    "NaN",
    "0",
];

/// Strings whose shape breaks trimming, re-encoding or length counting:
/// whitespace at either end, `/`, `%`, spaces, non-ASCII, a combining mark,
/// astral characters (4 UTF-8 bytes, 2 UTF-16 units, 1 code point), and a
/// right-to-left override.
pub(crate) const SHAPES: &[&str] = &[
    " leading-space",
    "trailing-space ",
    "\ttab-both-ends\t",
    "slash/inside",
    "percent%2Fencoded",
    "100%",
    "space inside",
    "caf\u{e9}",
    "cafe\u{301}",
    "\u{1F980}\u{1F4E6}",
    "\u{202E}rtl",
    "+plus+",
    "a?b#c&d=e",
];

/// Every hostile string, each made this run's own by `own` (a prefix),
/// except the built-in names, which only matter whole.
pub(crate) fn owned(own: &str) -> Vec<String> {
    SHAPES
        .iter()
        .map(|s| format!("{own}-{s}"))
        .chain(
            SHAPES
                .iter()
                .filter(|s| s.starts_with(char::is_whitespace))
                .map(|s| format!("{s}{own}")),
        )
        .collect()
}

/// Header bytes that some gRPC stacks drop or refuse silently: a tab, DEL's
/// neighbour 0x80, and 0xFF (all outside the idempotency key's 0x21-0x7E).
pub(crate) const DROPPED_HEADER_BYTES: &[(&str, &[u8])] = &[
    ("a tab", b"key\tkey"),
    ("byte 0x80", b"key\x80key"),
    ("byte 0xFF", b"key\xffkey"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corpus_has_what_the_reading_of_e6_lists() {
        // Lengths that differ between bytes, UTF-16 units and code points.
        let astral = SHAPES.iter().find(|s| s.contains('\u{1F980}')).unwrap();
        assert_ne!(astral.len(), astral.encode_utf16().count());
        assert_ne!(astral.encode_utf16().count(), astral.chars().count());
        assert!(SHAPES.iter().any(|s| s.starts_with(' ')));
        assert!(SHAPES.iter().any(|s| s.ends_with(' ')));
        for c in ['/', '%', ' ', '\u{301}'] {
            assert!(SHAPES.iter().any(|s| s.contains(c)), "{c:?}");
        }
        assert!(
            BUILTIN_NAMES
                .iter()
                .all(|s| s.bytes().all(|b| (0x21..=0x7e).contains(&b)))
        );
        assert!(
            owned("run")
                .iter()
                .all(|s| s.contains("run") && s.len() <= 128)
        );
    }
}
