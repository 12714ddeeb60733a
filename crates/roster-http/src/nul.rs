//! U+0000 in input. PostgreSQL cannot store it in text, so every dialect
//! refuses it where requests come in, on both databases alike (one model:
//! what one deployment accepts, the other does too).

/// The message each dialect puts in its validation error.
pub const NUL_REFUSED: &str = "text must not contain the NUL character (U+0000)";

/// Whether a JSON text holds U+0000 in a string. JSON can carry it only as
/// the escape `\u0000` (a raw control character is malformed JSON, refused
/// by the parser); the escape counts when an odd number of backslashes
/// precede the `u` (an even number is an escaped backslash and plain text).
pub fn json_holds_nul(bytes: &[u8]) -> bool {
    let mut i = 0;
    while let Some(at) = bytes[i..].windows(5).position(|w| w == b"u0000") {
        let u = i + at;
        let backslashes = bytes[..u].iter().rev().take_while(|b| **b == b'\\').count();
        if backslashes % 2 == 1 {
            return true;
        }
        i = u + 1;
    }
    false
}

/// Whether a raw query string holds U+0000 (`%00`: a `%` always starts an
/// escape, so the three characters can mean nothing else).
pub fn query_holds_nul(query: &str) -> bool {
    query.contains("%00")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_escaped_nul_is_found_and_an_escaped_backslash_is_not() {
        assert!(json_holds_nul(br#"{"a": "x\u0000y"}"#));
        assert!(json_holds_nul(br#"{"a": "\\\u0000"}"#));
        assert!(!json_holds_nul(br#"{"a": "\\u0000"}"#));
        assert!(!json_holds_nul(br#"{"a": "u0000"}"#));
        assert!(!json_holds_nul(br#"{"a": "\u0001"}"#));
        assert!(query_holds_nul("search=a%00b"));
        assert!(!query_holds_nul("search=a%2500b"));
    }
}
