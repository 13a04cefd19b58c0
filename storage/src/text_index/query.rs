//! Lucene query syntax, turned into a plan of tantivy leaf queries whose
//! rows are combined as bitmaps.
//!
//! The text is parsed by tantivy's own grammar (the front end of its
//! `QueryParser`); the tree it gives is turned into a [`Plan`] here rather
//! than into a query by `QueryParser`, for exactness:
//!
//! - `QueryParser` refuses a prefix of one word (`needle*`), and expands the
//!   last word of a phrase prefix (`"kernel pan"*`) to at most 50 terms, so a
//!   prefix could silently miss rows. Here a word prefix is a range of the
//!   term dictionary, and a phrase prefix is allowed as many expansions as
//!   the dictionary holds terms in that range.
//! - Each leaf (a term, a phrase, a prefix) runs alone and gives its rows;
//!   `AND`, `OR` and `NOT` are then intersections, unions and differences of
//!   roaring bitmaps. Tantivy's boolean scorers leap through their clauses
//!   with `seek_danger`, which has had bugs that lose or invent matches
//!   (quickwit-oss/tantivy#2811, #3086); a filter must be exact, and bitmap
//!   algebra over a handful of leaves costs little beside the leaves.
//!
//! The meaning follows Lucene:
//! - a bare word or a `"quoted phrase"` is cut by each field's analyzer; one
//!   term is a term query, several a phrase (`host-17` is the phrase
//!   `host 17`), none matches nothing;
//! - without `field:`, a word is looked for in every default field (the
//!   `fields` of the search, or every text field), any of them matching;
//! - words side by side are alternatives (default `OR`); `AND`, `OR`, `NOT`,
//!   `+`/`-` and parentheses combine them; beside a required part (`+a`,
//!   `a AND b`) the optional ones change nothing; a group of only negations
//!   (`NOT x`) means every document but those — though the grammar lifts a
//!   group of one clause into its parent, so `a (NOT b)` is `a -b`;
//! - `word*` and `"a phrase pre"*` match by prefix, `"a b"~2` with slop,
//!   `field:*` every document with a term in that field, `*` every document,
//!   `field: IN [a b]` any of the words; boosts are accepted and ignored,
//!   since nothing is scored. Ranges and regular expressions are refused.

use std::ops::Bound;
use std::path::Path;

use roaring::RoaringBitmap;
use tantivy::query::{Occur, PhrasePrefixQuery, PhraseQuery, Query, RangeQuery, TermQuery};
use tantivy::query_grammar::{self, Delimiter, UserInputAst, UserInputLeaf, UserInputLiteral};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{Searcher, Term};

use super::analyzer;
use super::{TextIndexError, TextQueryError};
use crate::spec::TextAnalyzer;

/// One field a query can name.
pub(super) struct QueryField<'a> {
    pub(super) name: &'a str,
    pub(super) field: Field,
    pub(super) analyzer: TextAnalyzer,
}

/// Where a query is built: the index's fields and its searcher (to size
/// phrase prefixes), and where it is, for errors.
pub(super) struct Target<'a> {
    pub(super) location: &'a Path,
    pub(super) searcher: &'a Searcher,
    pub(super) fields: &'a [QueryField<'a>],
}

/// What a query asks for: leaf queries, and how their rows combine.
pub(super) enum Plan {
    /// No row.
    Nothing,
    /// Every row of the index.
    All,
    /// The rows of one tantivy query.
    Leaf(Box<dyn Query>),
    /// The rows of any of these.
    Any(Vec<Plan>),
    /// Lucene's boolean clause: the rows of every `must` (or, without one,
    /// of any `should`; without either, every row), but none of `must_not`.
    Clause {
        must: Vec<Plan>,
        should: Vec<Plan>,
        must_not: Vec<Plan>,
    },
}

impl Plan {
    /// The rows the plan selects, given the rows of a leaf and of every
    /// document.
    pub(super) fn rows<E>(
        &self,
        leaf: &dyn Fn(&dyn Query) -> Result<RoaringBitmap, E>,
        all: &dyn Fn() -> Result<RoaringBitmap, E>,
    ) -> Result<RoaringBitmap, E> {
        match self {
            Plan::Nothing => Ok(RoaringBitmap::new()),
            Plan::All => all(),
            Plan::Leaf(query) => leaf(query.as_ref()),
            Plan::Any(plans) => union(plans, leaf, all),
            Plan::Clause {
                must,
                should,
                must_not,
            } => {
                let mut rows = match must.split_first() {
                    Some((first, rest)) => {
                        let mut rows = first.rows(leaf, all)?;
                        for plan in rest {
                            if rows.is_empty() {
                                break;
                            }
                            rows &= plan.rows(leaf, all)?;
                        }
                        rows
                    }
                    None if !should.is_empty() => union(should, leaf, all)?,
                    None => all()?,
                };
                for plan in must_not {
                    if rows.is_empty() {
                        break;
                    }
                    rows -= plan.rows(leaf, all)?;
                }
                Ok(rows)
            }
        }
    }
}

fn union<E>(
    plans: &[Plan],
    leaf: &dyn Fn(&dyn Query) -> Result<RoaringBitmap, E>,
    all: &dyn Fn() -> Result<RoaringBitmap, E>,
) -> Result<RoaringBitmap, E> {
    let mut rows = RoaringBitmap::new();
    for plan in plans {
        rows |= plan.rows(leaf, all)?;
    }
    Ok(rows)
}

/// The plan of query `text` over the target's fields, words without a field
/// looked for in the fields at `defaults`.
pub(super) fn plan(
    text: &str,
    target: &Target<'_>,
    defaults: &[usize],
) -> Result<Plan, TextQueryError> {
    let ast = parse(text)?;
    Builder {
        text,
        target,
        defaults,
    }
    .plan(ast)
}

/// The tree of query `text`, as the grammar reads it: what a plan is built
/// from, and what the highlighter walks for the words a match shows.
pub(super) fn parse(text: &str) -> Result<UserInputAst, TextQueryError> {
    query_grammar::parse_query(text).map_err(|_| syntax_error(text))
}

/// A bare word, and whether it is a prefix: Lucene's trailing `*` (the
/// grammar keeps it in the word). A `*` elsewhere would be a wildcard,
/// which is refused (the error says so) rather than read as a separator.
pub(super) fn bare_word(word: &str) -> Result<(&str, bool), &'static str> {
    let mut stem = word.trim_end_matches('*');
    if stem.ends_with('\\') && stem.len() < word.len() {
        // `\*` is a star, not a wildcard.
        stem = &word[..stem.len() + 1];
    }
    let mut escaped = false;
    for c in stem.chars() {
        if c == '*' && !escaped {
            return Err(
                "a * inside or before a word (a wildcard) is not supported; only a prefix (abc*) is",
            );
        }
        escaped = c == '\\' && !escaped;
    }
    Ok((stem, stem.len() < word.len()))
}

/// The first problem tantivy's lenient parse finds in `text`, with where it
/// is.
fn syntax_error(text: &str) -> TextQueryError {
    let (_, errors) = query_grammar::parse_query_lenient(text);
    let problem = match errors.first() {
        Some(error) => {
            let position = text
                .get(..error.pos)
                .map_or(error.pos, |before| before.chars().count());
            format!(
                "{} at position {position} (counting characters from 0)",
                error.message
            )
        }
        None => "the query does not follow the Lucene query syntax; is an AND, OR or NOT \
                 left with nothing after it?"
            .to_string(),
    };
    TextQueryError::Syntax {
        query: text.to_string(),
        problem,
    }
}

struct Builder<'a> {
    text: &'a str,
    target: &'a Target<'a>,
    defaults: &'a [usize],
}

impl Builder<'_> {
    fn plan(&self, ast: UserInputAst) -> Result<Plan, TextQueryError> {
        match ast {
            UserInputAst::Clause(clauses) => self.clause(clauses),
            UserInputAst::Boost(inner, _) => self.plan(*inner),
            UserInputAst::Leaf(leaf) => self.leaf(*leaf),
        }
    }

    fn clause(&self, clauses: Vec<(Option<Occur>, UserInputAst)>) -> Result<Plan, TextQueryError> {
        let (mut must, mut should, mut must_not) = (Vec::new(), Vec::new(), Vec::new());
        for (occur, ast) in clauses {
            let plan = self.plan(ast)?;
            let occur = occur.unwrap_or(Occur::Should);
            match (occur, plan) {
                // A required part that matches nothing makes the whole match
                // nothing; an optional or excluded one changes nothing.
                (Occur::Must, Plan::Nothing) => return Ok(Plan::Nothing),
                (_, Plan::Nothing) => {}
                (Occur::Must, plan) => must.push(plan),
                (Occur::Should, plan) => should.push(plan),
                (Occur::MustNot, plan) => must_not.push(plan),
            }
        }
        if must.is_empty() && should.is_empty() && must_not.is_empty() {
            return Ok(Plan::Nothing);
        }
        Ok(Plan::Clause {
            must,
            should,
            must_not,
        })
    }

    fn leaf(&self, leaf: UserInputLeaf) -> Result<Plan, TextQueryError> {
        match leaf {
            UserInputLeaf::Literal(literal) => self.literal(&literal),
            UserInputLeaf::All => Ok(Plan::All),
            UserInputLeaf::Exists { field } => {
                let field = self.field(&field)?;
                Ok(word_prefix(Term::from_field_text(field.field, "")))
            }
            UserInputLeaf::Set { field, elements } => {
                let mut alternatives = Vec::with_capacity(elements.len());
                for phrase in elements {
                    let literal = UserInputLiteral {
                        field_name: field.clone(),
                        phrase,
                        delimiter: Delimiter::DoubleQuotes,
                        slop: 0,
                        prefix: false,
                    };
                    alternatives.push(self.literal(&literal)?);
                }
                Ok(any(alternatives))
            }
            UserInputLeaf::Range { .. } => Err(self.unsupported(
                "range queries ([a TO b]) are not supported on text; use a prefix (abc*) or a dimension filter",
            )),
            UserInputLeaf::Regex { .. } => Err(self.unsupported(
                "regular expressions (/.../) are not supported; use a prefix (abc*) or a phrase",
            )),
        }
    }

    fn literal(&self, literal: &UserInputLiteral) -> Result<Plan, TextQueryError> {
        if literal.delimiter == Delimiter::None {
            let (stem, prefix) = self.bare_word(&literal.phrase)?;
            if prefix {
                let literal = UserInputLiteral {
                    phrase: stem.to_string(),
                    prefix: true,
                    ..literal.clone()
                };
                return self.literal_in_fields(&literal);
            }
        }
        self.literal_in_fields(literal)
    }

    fn bare_word<'w>(&self, word: &'w str) -> Result<(&'w str, bool), TextQueryError> {
        bare_word(word).map_err(|problem| self.unsupported(problem))
    }

    fn literal_in_fields(&self, literal: &UserInputLiteral) -> Result<Plan, TextQueryError> {
        let fields: Vec<&QueryField<'_>> = match &literal.field_name {
            Some(name) => vec![self.field(name)?],
            None => self
                .defaults
                .iter()
                .filter_map(|&i| self.target.fields.get(i))
                .collect(),
        };
        let mut alternatives = Vec::with_capacity(fields.len());
        for field in fields {
            alternatives.push(self.literal_in(field, literal)?);
        }
        Ok(any(alternatives))
    }

    /// The plan of one literal in one field.
    fn literal_in(
        &self,
        field: &QueryField<'_>,
        literal: &UserInputLiteral,
    ) -> Result<Plan, TextQueryError> {
        let mut terms = analyzer::terms(&mut analyzer::chain(field.analyzer), &literal.phrase);
        if literal.prefix {
            // The last term is what the user was still typing: not stemmed.
            let unstemmed =
                analyzer::terms(&mut analyzer::prefix_chain(field.analyzer), &literal.phrase);
            if let (Some(last), Some((_, prefix))) = (terms.last_mut(), unstemmed.last()) {
                last.1.clone_from(prefix);
            }
        }
        let mut terms: Vec<(usize, Term)> = terms
            .into_iter()
            .map(|(position, text)| (position, Term::from_field_text(field.field, &text)))
            .collect();
        let Some((_, last)) = terms.last() else {
            return Ok(Plan::Nothing);
        };
        if literal.prefix && terms.len() == 1 {
            return Ok(terms
                .pop()
                .map_or(Plan::Nothing, |(_, term)| word_prefix(term)));
        }
        if literal.prefix {
            let expansions = self.terms_with_prefix(last)?;
            if expansions == 0 {
                return Ok(Plan::Nothing);
            }
            let mut query = PhrasePrefixQuery::new_with_offset(terms);
            query.set_max_expansions(expansions);
            return Ok(Plan::Leaf(Box::new(query)));
        }
        if terms.len() == 1 {
            return Ok(terms.pop().map_or(Plan::Nothing, |(_, term)| {
                Plan::Leaf(Box::new(TermQuery::new(term, IndexRecordOption::Basic)))
            }));
        }
        Ok(Plan::Leaf(Box::new(PhraseQuery::new_with_offset_and_slop(
            terms,
            literal.slop,
        ))))
    }

    /// The most terms starting with `prefix` in any segment's dictionary.
    fn terms_with_prefix(&self, prefix: &Term) -> Result<u32, TextQueryError> {
        let failed = |e: &dyn std::fmt::Display| {
            TextQueryError::Index(TextIndexError::corrupt(self.target.location, e))
        };
        let start = prefix.serialized_value_bytes();
        let end = prefix_end(start);
        let mut most = 0u32;
        for segment in self.target.searcher.segment_readers() {
            let index = segment
                .inverted_index(prefix.field())
                .map_err(|e| failed(&e))?;
            let mut range = index.terms().range().ge(start);
            if let Some(end) = &end {
                range = range.lt(end);
            }
            let mut stream = range.into_stream().map_err(|e| failed(&e))?;
            let mut count = 0u32;
            while stream.advance() {
                count = count.saturating_add(1);
            }
            most = most.max(count);
        }
        Ok(most)
    }

    fn field(&self, name: &str) -> Result<&QueryField<'_>, TextQueryError> {
        let fields = self.target.fields;
        fields
            .iter()
            .find(|f| f.name == name)
            .ok_or_else(|| TextQueryError::UnknownField {
                field: name.to_string(),
                text_fields: fields.iter().map(|f| f.name.to_string()).collect(),
            })
    }

    fn unsupported(&self, problem: &str) -> TextQueryError {
        TextQueryError::Syntax {
            query: self.text.to_string(),
            problem: problem.to_string(),
        }
    }
}

/// Documents with a term that starts with `prefix` (every term for an
/// empty prefix): a range of the term dictionary, however many terms it
/// holds.
fn word_prefix(prefix: Term) -> Plan {
    let upper = match prefix_end(prefix.serialized_value_bytes()) {
        Some(end) => {
            let mut term = Term::from_field_text(prefix.field(), "");
            term.set_bytes(&end);
            Bound::Excluded(term)
        }
        None => Bound::Unbounded,
    };
    Plan::Leaf(Box::new(RangeQuery::new(Bound::Included(prefix), upper)))
}

/// The smallest byte string after every string that starts with `prefix`;
/// `None` when there is none (the prefix is empty or all `0xff`).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Any of `alternatives`: those that can match something.
fn any(mut alternatives: Vec<Plan>) -> Plan {
    alternatives.retain(|plan| !matches!(plan, Plan::Nothing));
    match alternatives.len() {
        0 => Plan::Nothing,
        1 => alternatives.pop().unwrap_or(Plan::Nothing),
        _ => Plan::Any(alternatives),
    }
}
