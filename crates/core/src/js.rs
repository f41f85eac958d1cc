//! The name of the global constant a `token.js` snippet defines
//! (`const InstagramToken = "...";`).
//!
//! Tenants may choose that name, and it is pasted verbatim into JavaScript that runs on their
//! visitors' pages, so it is checked here rather than escaped: a name that passes cannot break
//! out of the statement, is not a word of the language, and is none of the globals the
//! browser or common scripts define (redeclaring those throws, or breaks other scripts).
//!
//! A top-level `const` still throws if the page itself already declared the same name, e.g.
//! when two accounts' snippets with the same name are on one page: give each its own name.

/// The constant name a snippet uses unless the tenant picks another.
pub const DEFAULT_CONSTANT: &str = "InstagramToken";

/// The longest constant name accepted. Real names are short; the limit keeps the snippet, the
/// form field and the database column bounded.
pub const MAX_CONSTANT_LEN: usize = 64;

/// Words no binding may be named in a classic script, sloppy or strict: ECMAScript keywords,
/// strict-mode and future reserved words, and the literals `true`, `false` and `null`, plus
/// the globals a top-level `const` cannot (`undefined`, `NaN`, `Infinity` throw a
/// `SyntaxError`) or must not (`eval`, `arguments`) redeclare.
///
/// Sorted, so that lookups are a binary search and a test can hold the order.
const RESERVED_WORDS: &[&str] = &[
    "Infinity",
    "NaN",
    "arguments",
    "await",
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "debugger",
    "default",
    "delete",
    "do",
    "else",
    "enum",
    "eval",
    "export",
    "extends",
    "false",
    "finally",
    "for",
    "function",
    "if",
    "implements",
    "import",
    "in",
    "instanceof",
    "interface",
    "let",
    "new",
    "null",
    "package",
    "private",
    "protected",
    "public",
    "return",
    "static",
    "super",
    "switch",
    "this",
    "throw",
    "true",
    "try",
    "typeof",
    "undefined",
    "var",
    "void",
    "while",
    "with",
    "yield",
];

/// Globals a top-level `const` would collide with. The unforgeable ones (`window`,
/// `document`, `top`, `location`) make the whole snippet throw; the others (the most used
/// built-ins, and jQuery) would be shadowed for every script on the page, breaking the
/// tenant's site in ways hard to trace back to us. Not every global is here; these are the
/// ones a person might plausibly type.
///
/// Sorted (by byte), like [`RESERVED_WORDS`].
const BROWSER_GLOBALS: &[&str] = &[
    "$",
    "Array",
    "Boolean",
    "Date",
    "Error",
    "JSON",
    "Map",
    "Math",
    "Number",
    "Object",
    "Promise",
    "RegExp",
    "Set",
    "String",
    "Symbol",
    "console",
    "document",
    "fetch",
    "frames",
    "globalThis",
    "jQuery",
    "localStorage",
    "location",
    "navigator",
    "parent",
    "self",
    "sessionStorage",
    "setInterval",
    "setTimeout",
    "top",
    "window",
];

/// Why a constant name was refused; each message is written for the tenant who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidConstantName {
    #[error("the constant name cannot be empty")]
    Empty,
    #[error("the constant name is too long: at most {MAX_CONSTANT_LEN} characters")]
    TooLong,
    #[error(
        "a name must start with a letter, _ or $ and continue with letters, digits, _ or $ \
         (letters A to Z only, no spaces)"
    )]
    BadCharacter,
    #[error("{}", reserved_message(.0))]
    Reserved(String),
}

fn reserved_message(word: &str) -> String {
    if BROWSER_GLOBALS.binary_search(&word).is_ok() {
        format!(
            "{word:?} is already defined by the browser or the page's scripts and cannot be redeclared"
        )
    } else {
        format!("{word:?} is a reserved word in JavaScript")
    }
}

/// Checks that `name` can be used as `const <name> = "...";` at the top level of a classic
/// script on any page.
///
/// Only ASCII identifiers are accepted: a first character in `[A-Za-z_$]`, the rest in
/// `[A-Za-z0-9_$]`. This is deliberately narrower than ECMAScript, which allows Unicode
/// letters and `\u` escapes: the narrow set has no look-alike characters (Cyrillic `а`,
/// zero-width spaces) to confuse a tenant reading their own snippet, and nothing that would
/// need escaping in HTML, JSON or a URL. Matching of reserved words is case-sensitive, as in
/// JavaScript: `Class` is a valid name.
pub fn check_constant_name(name: &str) -> Result<(), InvalidConstantName> {
    if name.is_empty() {
        return Err(InvalidConstantName::Empty);
    }
    if name.chars().count() > MAX_CONSTANT_LEN {
        return Err(InvalidConstantName::TooLong);
    }
    let mut bytes = name.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b'$');
    if !first_ok || !bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$') {
        return Err(InvalidConstantName::BadCharacter);
    }
    if RESERVED_WORDS.binary_search(&name).is_ok() || BROWSER_GLOBALS.binary_search(&name).is_ok() {
        return Err(InvalidConstantName::Reserved(name.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_name_is_valid() {
        assert_eq!(check_constant_name(DEFAULT_CONSTANT), Ok(()));
    }

    #[test]
    fn ordinary_identifiers_are_accepted() {
        for name in [
            "InstagramToken",
            "_x",
            "$tok",
            "a1",
            "_",
            "token_2024",
            "A$b_C",
        ] {
            assert_eq!(check_constant_name(name), Ok(()), "{name:?}");
        }
    }

    #[test]
    fn a_name_of_exactly_the_limit_is_accepted() {
        let name = "a".repeat(MAX_CONSTANT_LEN);
        assert_eq!(check_constant_name(&name), Ok(()));
    }

    #[test]
    fn a_name_over_the_limit_is_too_long() {
        let name = "a".repeat(MAX_CONSTANT_LEN + 1);
        assert_eq!(
            check_constant_name(&name),
            Err(InvalidConstantName::TooLong)
        );
    }

    #[test]
    fn an_empty_name_is_refused() {
        assert_eq!(check_constant_name(""), Err(InvalidConstantName::Empty));
    }

    #[test]
    fn attempts_to_inject_code_are_refused() {
        for name in [
            "x=1;alert(1)//",
            "a b",
            "a-b",
            "1abc",
            "</script>",
            "a.b",
            "a\"",
            "x\n",
            " x",
            "x ",
        ] {
            assert_eq!(
                check_constant_name(name),
                Err(InvalidConstantName::BadCharacter),
                "{name:?}"
            );
        }
    }

    #[test]
    fn non_ascii_letters_and_invisible_characters_are_refused() {
        for name in ["é", "café", "\u{200b}x", "x\u{200b}", "\u{430}pple"] {
            assert_eq!(
                check_constant_name(name),
                Err(InvalidConstantName::BadCharacter),
                "{name:?}"
            );
        }
    }

    #[test]
    fn reserved_words_are_refused() {
        for name in [
            "class",
            "const",
            "let",
            "yield",
            "await",
            "enum",
            "null",
            "true",
            "false",
            "implements",
            "static",
            "undefined",
            "NaN",
            "Infinity",
            "eval",
            "arguments",
        ] {
            assert_eq!(
                check_constant_name(name),
                Err(InvalidConstantName::Reserved(name.to_owned())),
                "{name:?}"
            );
        }
    }

    #[test]
    fn browser_globals_are_refused() {
        for name in BROWSER_GLOBALS {
            assert_eq!(
                check_constant_name(name),
                Err(InvalidConstantName::Reserved((*name).to_owned())),
                "{name:?}"
            );
        }
    }

    #[test]
    fn reserved_words_are_matched_case_sensitively() {
        assert_eq!(check_constant_name("Class"), Ok(()));
        assert_eq!(check_constant_name("Window"), Ok(()));
        assert_eq!(check_constant_name("NULL"), Ok(()));
    }

    #[test]
    fn the_word_lists_are_sorted_so_binary_search_finds_every_entry() {
        for list in [RESERVED_WORDS, BROWSER_GLOBALS] {
            assert!(list.windows(2).all(|pair| pair[0] < pair[1]), "{list:?}");
        }
    }

    #[test]
    fn messages_explain_the_rule_to_the_tenant() {
        assert_eq!(
            InvalidConstantName::Reserved("class".to_owned()).to_string(),
            "\"class\" is a reserved word in JavaScript"
        );
        assert_eq!(
            InvalidConstantName::Reserved("window".to_owned()).to_string(),
            "\"window\" is already defined by the browser or the page's scripts and cannot be redeclared"
        );
        let bad = InvalidConstantName::BadCharacter.to_string();
        assert!(
            bad.contains(
                "a name must start with a letter, _ or $ and continue with letters, digits, _ or $"
            ),
            "{bad}"
        );
        assert!(
            InvalidConstantName::TooLong.to_string().contains("64"),
            "the limit is named"
        );
    }
}
