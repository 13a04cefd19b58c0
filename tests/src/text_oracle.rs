//! The tests' own reading of text, independent of Strata's analyzers: what
//! the `default` analyzer promises (split on anything not alphanumeric,
//! lowercase), written the plainest way, for oracles that tokenize every
//! sent message and scan.

/// The words of `text` as the `default` analyzer finds them.
pub fn tokens(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|token| !token.is_empty())
        .map(str::to_owned)
        .collect()
}
