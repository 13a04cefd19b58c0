//! Highlighting: the words of a value that made it match a query, tagged,
//! in fragments around them — what a search shows beside each hit.
//!
//! The index says *which* rows match, not where; a value is short, so the
//! highlighter finds the words again by cutting the stored value with its
//! field's analyzer (the same cut the index was built with, see
//! `analyzer`), keeping each token's byte offsets in the value, and
//! comparing the tokens with the query's words cut the same way. So a
//! stemmed field marks `connected` for the query `connection`, and a raw
//! field marks the whole value or nothing.
//!
//! What is marked: the tokens a *positive* leaf of the query matches in
//! that field — a term, a `prefix*`, and every term of a `"phrase"` where
//! the phrase occurs (with a slop, `"a b"~2`, each of its terms wherever
//! the value holds them all). Leaves under `NOT` or `-` say what a match
//! lacks, so nothing of theirs is marked; `*` and `field:*` name no word.
//! A word without `field:` is looked for in the default fields of the
//! search, one with `field:` only there.
//!
//! Fragments: a value of at most `fragment_size` characters (or any value
//! with `number_of_fragments` 0) comes back whole; a longer one as up to
//! `number_of_fragments` windows of about `fragment_size` characters, the
//! first marks in the value each centred in one, a window grown rather
//! than cutting a marked word, windows never overlapping, in value order.
//! Offsets are counted in characters and tags go between characters, so a
//! fragment never splits a UTF-8 sequence. The value is not HTML-escaped:
//! it is shown as stored, with the tags around the marks, and a page that
//! renders it as HTML must escape it itself.

use std::collections::HashMap;

use tantivy::query::Occur;
use tantivy::query_grammar::{Delimiter, UserInputAst, UserInputLeaf, UserInputLiteral};

use super::{TextField, TextQueryError, analyzer, query};
use crate::spec::TextAnalyzer;

/// How marks are tagged and cut into fragments (Elasticsearch's names and
/// defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HighlightOptions {
    /// Written before each marked word.
    pub pre_tag: String,
    /// Written after each marked word.
    pub post_tag: String,
    /// About how many characters a fragment holds.
    pub fragment_size: usize,
    /// At most this many fragments per value; 0 gives the whole value.
    pub number_of_fragments: usize,
}

impl Default for HighlightOptions {
    fn default() -> Self {
        HighlightOptions {
            pre_tag: "<em>".to_owned(),
            post_tag: "</em>".to_owned(),
            fragment_size: 100,
            number_of_fragments: 5,
        }
    }
}

/// A query made ready to highlight the values of some text fields. See the
/// [module docs](self).
#[derive(Debug, Clone)]
pub struct Highlighter {
    fields: Vec<FieldWords>,
    options: HighlightOptions,
}

/// The words to mark in one field.
#[derive(Debug, Clone)]
struct FieldWords {
    name: String,
    analyzer: TextAnalyzer,
    words: Vec<Word>,
}

/// One positive leaf of the query, cut by the field's analyzer.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Word {
    Term(String),
    Prefix(String),
    /// Terms with their positions relative to each other; the last one a
    /// prefix when `prefix`.
    Phrase {
        terms: Vec<(usize, String)>,
        prefix: bool,
        slop: u32,
    },
}

/// One token of a value: its position, its term, and its bytes in the value.
struct Token {
    position: usize,
    term: String,
    from: usize,
    to: usize,
}

impl Highlighter {
    /// Prepares `query` (Lucene syntax) to highlight values of `fields`;
    /// a word without `field:` is looked for in the fields named by
    /// `defaults` (every one of `fields` when empty). A query that does not
    /// parse, or names a field that is not among `fields`, is refused as a
    /// search of it would be.
    pub fn new(
        query: &str,
        fields: &[TextField],
        defaults: &[String],
        options: HighlightOptions,
    ) -> Result<Highlighter, TextQueryError> {
        let defaults: Vec<usize> = if defaults.is_empty() {
            (0..fields.len()).collect()
        } else {
            defaults
                .iter()
                .map(|name| super::field_position(fields, name))
                .collect::<Result<_, _>>()?
        };
        let mut collector = Collector {
            text: query,
            fields: fields
                .iter()
                .map(|field| FieldWords {
                    name: field.name.clone(),
                    analyzer: field.analyzer,
                    words: Vec::new(),
                })
                .collect(),
            defaults,
        };
        collector.collect(&query::parse(query)?)?;
        Ok(Highlighter {
            fields: collector.fields,
            options,
        })
    }

    /// The fragments of `value` (a value of the field `field`) with the
    /// query's words tagged; empty when the value holds none of them or the
    /// field is not one the highlighter knows.
    pub fn highlight(&self, field: &str, value: &str) -> Vec<String> {
        let Some(field) = self.fields.iter().find(|f| f.name == field) else {
            return Vec::new();
        };
        if field.words.is_empty() {
            return Vec::new();
        }
        let marks = marks(&tokens(field.analyzer, value), &field.words);
        if marks.is_empty() {
            return Vec::new();
        }
        fragments(value, &marks, &self.options)
    }
}

/// Walks the query tree, gathering each field's words.
struct Collector<'q> {
    text: &'q str,
    fields: Vec<FieldWords>,
    defaults: Vec<usize>,
}

impl Collector<'_> {
    fn collect(&mut self, ast: &UserInputAst) -> Result<(), TextQueryError> {
        match ast {
            UserInputAst::Clause(clauses) => {
                for (occur, ast) in clauses {
                    if *occur != Some(Occur::MustNot) {
                        self.collect(ast)?;
                    }
                }
                Ok(())
            }
            UserInputAst::Boost(inner, _) => self.collect(inner),
            UserInputAst::Leaf(leaf) => match leaf.as_ref() {
                UserInputLeaf::Literal(literal) => self.literal(literal),
                UserInputLeaf::Set { field, elements } => {
                    for phrase in elements {
                        self.literal(&UserInputLiteral {
                            field_name: field.clone(),
                            phrase: phrase.clone(),
                            delimiter: Delimiter::DoubleQuotes,
                            slop: 0,
                            prefix: false,
                        })?;
                    }
                    Ok(())
                }
                UserInputLeaf::All
                | UserInputLeaf::Exists { .. }
                | UserInputLeaf::Range { .. }
                | UserInputLeaf::Regex { .. } => Ok(()),
            },
        }
    }

    fn literal(&mut self, literal: &UserInputLiteral) -> Result<(), TextQueryError> {
        let (phrase, prefix) = if literal.delimiter == Delimiter::None {
            query::bare_word(&literal.phrase).map_err(|problem| TextQueryError::Syntax {
                query: self.text.to_owned(),
                problem: problem.to_owned(),
            })?
        } else {
            (literal.phrase.as_str(), literal.prefix)
        };
        let targets = match &literal.field_name {
            Some(name) => vec![
                self.fields
                    .iter()
                    .position(|f| &f.name == name)
                    .ok_or_else(|| TextQueryError::UnknownField {
                        field: name.clone(),
                        text_fields: self.fields.iter().map(|f| f.name.clone()).collect(),
                    })?,
            ],
            None => self.defaults.clone(),
        };
        for target in targets {
            if let Some(field) = self.fields.get_mut(target)
                && let Some(word) = word(field.analyzer, phrase, prefix, literal.slop)
            {
                field.words.push(word);
            }
        }
        Ok(())
    }
}

/// A literal cut by `analyzer` as a search cuts it (see `query`): the last
/// term of a prefix without stemming. `None` when it holds no term.
fn word(analyzer: TextAnalyzer, phrase: &str, prefix: bool, slop: u32) -> Option<Word> {
    let mut terms = analyzer::terms(&mut analyzer::chain(analyzer), phrase);
    if prefix {
        let unstemmed = analyzer::terms(&mut analyzer::prefix_chain(analyzer), phrase);
        if let (Some(last), Some((_, typed))) = (terms.last_mut(), unstemmed.last()) {
            last.1.clone_from(typed);
        }
    }
    match terms.len() {
        0 => None,
        1 => terms.pop().map(|(_, term)| {
            if prefix {
                Word::Prefix(term)
            } else {
                Word::Term(term)
            }
        }),
        _ => Some(Word::Phrase {
            terms,
            prefix,
            slop,
        }),
    }
}

/// The tokens `analyzer` cuts `value` into.
fn tokens(analyzer: TextAnalyzer, value: &str) -> Vec<Token> {
    let mut chain = analyzer::chain(analyzer);
    let mut stream = chain.token_stream(value);
    let mut tokens = Vec::new();
    stream.process(&mut |token| {
        tokens.push(Token {
            position: token.position,
            term: token.text.clone(),
            from: token.offset_from,
            to: token.offset_to,
        });
    });
    tokens
}

/// The byte ranges of the tokens `words` match, in order, overlaps merged.
fn marks(tokens: &[Token], words: &[Word]) -> Vec<(usize, usize)> {
    let mut marked = vec![false; tokens.len()];
    let mut at_position: HashMap<usize, Vec<usize>> = HashMap::new();
    for (index, token) in tokens.iter().enumerate() {
        at_position.entry(token.position).or_default().push(index);
    }
    let matches = |token: &Token, term: &str, prefix: bool| {
        if prefix {
            token.term.starts_with(term)
        } else {
            token.term == term
        }
    };
    for word in words {
        match word {
            Word::Term(term) | Word::Prefix(term) => {
                let prefix = matches!(word, Word::Prefix(_));
                for (index, token) in tokens.iter().enumerate() {
                    if matches(token, term, prefix) {
                        marked[index] = true;
                    }
                }
            }
            Word::Phrase {
                terms,
                prefix,
                slop,
            } => {
                let last = terms.len().saturating_sub(1);
                let is_prefix = |i: usize| *prefix && i == last;
                if *slop > 0 {
                    // Each term wherever the value holds them all.
                    let found: Vec<Vec<usize>> = terms
                        .iter()
                        .enumerate()
                        .map(|(i, (_, term))| {
                            (0..tokens.len())
                                .filter(|&t| matches(&tokens[t], term, is_prefix(i)))
                                .collect()
                        })
                        .collect();
                    if found.iter().all(|indexes| !indexes.is_empty()) {
                        for index in found.into_iter().flatten() {
                            marked[index] = true;
                        }
                    }
                    continue;
                }
                let Some((first_position, _)) = terms.first() else {
                    continue;
                };
                for anchor in tokens {
                    let Some(base) = anchor.position.checked_sub(*first_position) else {
                        continue;
                    };
                    let found: Option<Vec<usize>> = terms
                        .iter()
                        .enumerate()
                        .map(|(i, (position, term))| {
                            at_position
                                .get(&(base + position))?
                                .iter()
                                .copied()
                                .find(|&t| matches(&tokens[t], term, is_prefix(i)))
                        })
                        .collect();
                    for index in found.into_iter().flatten() {
                        marked[index] = true;
                    }
                }
            }
        }
    }
    let mut ranges: Vec<(usize, usize)> = tokens
        .iter()
        .zip(&marked)
        .filter(|(_, marked)| **marked)
        .map(|(token, _)| (token.from, token.to))
        .collect();
    ranges.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    for (from, to) in ranges {
        match merged.last_mut() {
            Some(last) if from < last.1 => last.1 = last.1.max(to),
            _ => merged.push((from, to)),
        }
    }
    merged
}

/// The fragments of `value` around `marks` (byte ranges, in order), tagged.
fn fragments(value: &str, marks: &[(usize, usize)], options: &HighlightOptions) -> Vec<String> {
    // The byte offset of each character, and of the end.
    let bounds: Vec<usize> = value
        .char_indices()
        .map(|(at, _)| at)
        .chain(std::iter::once(value.len()))
        .collect();
    let chars = bounds.len() - 1;
    let char_at = |byte: usize| bounds.partition_point(|&b| b < byte);
    let marks: Vec<(usize, usize)> = marks
        .iter()
        .map(|&(from, to)| (char_at(from), char_at(to)))
        .collect();
    let size = options.fragment_size;
    if options.number_of_fragments == 0 || chars <= size {
        return vec![tagged(value, &bounds, (0, chars), &marks, options)];
    }
    let mut windows: Vec<(usize, usize)> = Vec::new();
    for &(from, to) in &marks {
        let covered = windows.last().map_or(0, |&(_, end)| end);
        if from < covered {
            continue;
        }
        if windows.len() == options.number_of_fragments {
            break;
        }
        let room = size.saturating_sub(to - from);
        let mut start = from.saturating_sub(room / 2).max(covered);
        let mut end = start.saturating_add(size).max(to).min(chars);
        start = start.min(end.saturating_sub(size)).max(covered);
        // A window ends after a mark it would cut.
        for &(mark_from, mark_to) in &marks {
            if mark_from < end && end < mark_to {
                end = mark_to;
            }
        }
        windows.push((start, end));
    }
    windows
        .into_iter()
        .map(|window| tagged(value, &bounds, window, &marks, options))
        .collect()
}

/// The characters `window` of `value`, each mark inside it tagged.
fn tagged(
    value: &str,
    bounds: &[usize],
    (start, end): (usize, usize),
    marks: &[(usize, usize)],
    options: &HighlightOptions,
) -> String {
    let slice = |from: usize, to: usize| {
        let (Some(&from), Some(&to)) = (bounds.get(from), bounds.get(to)) else {
            return "";
        };
        value.get(from..to).unwrap_or_default()
    };
    let mut text = String::new();
    let mut at = start;
    for &(from, to) in marks
        .iter()
        .filter(|&&(from, to)| start <= from && to <= end)
    {
        text.push_str(slice(at, from));
        text.push_str(&options.pre_tag);
        text.push_str(slice(from, to));
        text.push_str(&options.post_tag);
        at = to;
    }
    text.push_str(slice(at, end));
    text
}

#[cfg(test)]
mod tests {
    use super::{HighlightOptions, Highlighter};
    use crate::spec::TextAnalyzer;
    use crate::text_index::{TextField, TextQueryError};

    fn field(name: &str, analyzer: TextAnalyzer) -> TextField {
        TextField {
            name: name.to_owned(),
            analyzer,
        }
    }

    fn sized(fragment_size: usize, number_of_fragments: usize) -> HighlightOptions {
        HighlightOptions {
            fragment_size,
            number_of_fragments,
            ..HighlightOptions::default()
        }
    }

    /// The fragments of `value` in the field `message` (default analyzer).
    fn marked(query: &str, value: &str) -> Vec<String> {
        marked_with(
            query,
            TextAnalyzer::Default,
            value,
            HighlightOptions::default(),
        )
    }

    fn marked_with(
        query: &str,
        analyzer: TextAnalyzer,
        value: &str,
        options: HighlightOptions,
    ) -> Vec<String> {
        Highlighter::new(query, &[field("message", analyzer)], &[], options)
            .expect("the query parses")
            .highlight("message", value)
    }

    #[test]
    fn terms_are_tagged_wherever_the_analyzer_finds_them() {
        assert_eq!(
            marked("needle", "GET /x needle ok Needle"),
            ["GET /x <em>needle</em> ok <em>Needle</em>"]
        );
        assert_eq!(
            marked("needle OR ok", "needle, ok."),
            ["<em>needle</em>, <em>ok</em>."]
        );
        assert!(marked("haystack", "GET /x needle").is_empty());
    }

    #[test]
    fn prefixes_tag_every_word_they_start() {
        assert_eq!(
            marked("need*", "needles needed kneed"),
            ["<em>needles</em> <em>needed</em> kneed"]
        );
    }

    #[test]
    fn phrases_tag_their_terms_only_where_the_phrase_occurs() {
        assert_eq!(
            marked(
                "\"connection reset\"",
                "reset connection; connection reset by peer"
            ),
            ["reset connection; <em>connection</em> <em>reset</em> by peer"]
        );
        assert_eq!(
            marked("host-17", "host 18 and host-17"),
            ["host 18 and <em>host</em>-<em>17</em>"]
        );
        assert!(marked("\"reset connection\"", "connection reset").is_empty());
        assert_eq!(
            marked("\"connection res\"*", "connection lost, connection reset"),
            ["connection lost, <em>connection</em> <em>reset</em>"]
        );
    }

    #[test]
    fn negated_words_are_not_tagged() {
        assert_eq!(
            marked("reset -peer", "reset by peer"),
            ["<em>reset</em> by peer"]
        );
        assert_eq!(
            marked("reset AND NOT (peer OR by)", "reset by peer"),
            ["<em>reset</em> by peer"]
        );
        assert!(marked("NOT peer", "reset by peer").is_empty());
        assert!(marked("*", "reset by peer").is_empty());
    }

    #[test]
    fn a_stemming_field_tags_the_forms_of_a_word() {
        let english = |query: &str, value: &str| {
            marked_with(
                query,
                TextAnalyzer::English,
                value,
                HighlightOptions::default(),
            )
        };
        assert_eq!(
            english("connection", "Connected to connections, not connecting"),
            ["<em>Connected</em> to <em>connections</em>, not <em>connecting</em>"]
        );
        // A prefix is what was typed, compared with the stored stems.
        assert_eq!(
            english("conn*", "Connected cons"),
            ["<em>Connected</em> cons"]
        );
        let raw = marked_with(
            "Host-17",
            TextAnalyzer::Raw,
            "Host-17",
            HighlightOptions::default(),
        );
        assert_eq!(raw, ["<em>Host-17</em>"]);
        assert!(
            marked_with(
                "host",
                TextAnalyzer::Raw,
                "host 17",
                HighlightOptions::default()
            )
            .is_empty()
        );
    }

    #[test]
    fn tags_go_between_characters_of_any_width() {
        assert_eq!(
            marked("naïve", "café ünïcode NAÏVE ñandú"),
            ["café ünïcode <em>NAÏVE</em> ñandú"]
        );
        // 18 characters, 28 bytes: a window of 10 characters from the 5th.
        assert_eq!(
            marked_with(
                "needle",
                TextAnalyzer::Default,
                "ééééé needle ééééé",
                sized(10, 1)
            ),
            ["é <em>needle</em> é"]
        );
    }

    #[test]
    fn long_values_come_back_as_fragments_around_the_first_marks() {
        let value = "aaa needle bbb ccc ddd eee fff ggg needle hhh";
        let in_fragments = |size: usize, count: usize| {
            marked_with("needle", TextAnalyzer::Default, value, sized(size, count))
        };
        assert_eq!(
            in_fragments(12, 2),
            ["aa <em>needle</em> bb", "gg <em>needle</em> hh"]
        );
        assert_eq!(in_fragments(12, 1), ["aa <em>needle</em> bb"]);
        assert_eq!(
            in_fragments(12, 0),
            ["aaa <em>needle</em> bbb ccc ddd eee fff ggg <em>needle</em> hhh"]
        );
        assert_eq!(
            in_fragments(45, 3),
            ["aaa <em>needle</em> bbb ccc ddd eee fff ggg <em>needle</em> hhh"]
        );
        // A window grows rather than cut a marked word; a mark longer than a
        // window is a window of its own.
        let prefix = |size: usize| {
            marked_with(
                "needle*",
                TextAnalyzer::Default,
                "ab needle needlework cd",
                sized(size, 5),
            )
        };
        assert_eq!(prefix(10), ["b <em>needle</em> <em>needlework</em>"]);
        assert_eq!(prefix(8), [" <em>needle</em> ", "<em>needlework</em>"]);
    }

    #[test]
    fn tags_are_the_callers_and_values_are_not_escaped() {
        let options = HighlightOptions {
            pre_tag: "[".to_owned(),
            post_tag: "]".to_owned(),
            ..HighlightOptions::default()
        };
        assert_eq!(
            marked_with("b", TextAnalyzer::Default, "<a> & b", options),
            ["<a> & [b]"]
        );
    }

    #[test]
    fn words_without_a_field_go_to_the_default_fields_only() {
        let fields = [
            field("message", TextAnalyzer::Default),
            field("host", TextAnalyzer::Default),
        ];
        let highlighter = Highlighter::new(
            "needle host:web*",
            &fields,
            &["message".to_owned()],
            HighlightOptions::default(),
        )
        .expect("the query parses");
        assert_eq!(
            highlighter.highlight("message", "needle web"),
            ["<em>needle</em> web"]
        );
        assert_eq!(
            highlighter.highlight("host", "web-1 needle"),
            ["<em>web</em>-1 needle"]
        );
        assert!(highlighter.highlight("other", "needle").is_empty());
    }

    #[test]
    fn bad_queries_and_unknown_fields_are_refused() {
        let fields = [field("message", TextAnalyzer::Default)];
        let new = |query: &str, defaults: &[String]| {
            Highlighter::new(query, &fields, defaults, HighlightOptions::default())
        };
        assert!(matches!(
            new("(needle AND", &[]),
            Err(TextQueryError::Syntax { .. })
        ));
        assert!(matches!(
            new("ne*dle", &[]),
            Err(TextQueryError::Syntax { .. })
        ));
        assert!(matches!(
            new("body:needle", &[]),
            Err(TextQueryError::UnknownField { field, .. }) if field == "body"
        ));
        assert!(matches!(
            new("needle", &["body".to_owned()]),
            Err(TextQueryError::UnknownField { field, .. }) if field == "body"
        ));
    }
}
