//! Analyzers: how a text value is cut into the terms the index holds.
//!
//! A value and a query are cut the same way, or a search could not find what
//! was written. So an analyzer is registered on every index under a name of
//! its own, the name is kept in the index's schema with each field, and the
//! query side builds the same chain from that name:
//!
//! - `default`: split on every character that is not alphanumeric, then
//!   lowercase — `Host-17 GET /a?q=Needle7F3A from 10.0.0.1` holds the terms
//!   `host 17 get a q needle7f3a from 10 0 0 1`, in that order, so each part
//!   of a host name, URL or address is a term and the whole is a phrase;
//! - `raw`: the whole value is one term, as written (ids, enum-like values);
//! - `english`: `default`, then the English (Porter) stemmer, so `connection`
//!   and `connected` are both the term `connect`.
//!
//! A prefix query (`conn*`) on an english field is cut without the stemmer,
//! as Lucene and Elasticsearch do for wildcards: the prefix is what the user
//! typed, lowercased, not the stem of a word they have not finished.

use tantivy::tokenizer::{
    Language, LowerCaser, RawTokenizer, SimpleTokenizer, Stemmer, TextAnalyzer as Chain,
    TokenizerManager,
};

use crate::spec::TextAnalyzer;

const ANALYZERS: [TextAnalyzer; 3] = [
    TextAnalyzer::Default,
    TextAnalyzer::Raw,
    TextAnalyzer::English,
];

/// The name `analyzer` is registered under, and kept in the index schema.
pub(super) fn tokenizer_name(analyzer: TextAnalyzer) -> &'static str {
    match analyzer {
        TextAnalyzer::Default => "strata_default",
        TextAnalyzer::Raw => "strata_raw",
        TextAnalyzer::English => "strata_english",
    }
}

/// The analyzer registered under `name`, if it is one of Strata's.
pub(super) fn from_tokenizer_name(name: &str) -> Option<TextAnalyzer> {
    ANALYZERS
        .into_iter()
        .find(|&analyzer| tokenizer_name(analyzer) == name)
}

/// The tokenizer chain of `analyzer`.
pub(super) fn chain(analyzer: TextAnalyzer) -> Chain {
    match analyzer {
        TextAnalyzer::Default => Chain::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .build(),
        TextAnalyzer::Raw => Chain::builder(RawTokenizer::default()).build(),
        TextAnalyzer::English => Chain::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .filter(Stemmer::new(Language::English))
            .build(),
    }
}

/// The chain a prefix is cut with on a field of `analyzer`: the same one,
/// without stemming.
pub(super) fn prefix_chain(analyzer: TextAnalyzer) -> Chain {
    match analyzer {
        TextAnalyzer::English => chain(TextAnalyzer::Default),
        other => chain(other),
    }
}

/// A tokenizer manager with every analyzer registered.
pub(super) fn tokenizers() -> TokenizerManager {
    let manager = TokenizerManager::default();
    for analyzer in ANALYZERS {
        manager.register(tokenizer_name(analyzer), chain(analyzer));
    }
    manager
}

/// The terms `chain` cuts `text` into, with their positions.
pub(super) fn terms(chain: &mut Chain, text: &str) -> Vec<(usize, String)> {
    let mut terms = Vec::new();
    let mut stream = chain.token_stream(text);
    stream.process(&mut |token| terms.push((token.position, token.text.clone())));
    terms
}
