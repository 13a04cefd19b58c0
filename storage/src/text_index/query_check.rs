//! Checking a full-text query before any index is asked.
//!
//! A query is refused by the first table that searches it when it names a
//! field that is not a text dimension or uses what the evaluation does not
//! support (ranges, regular expressions, wildcards). A datasource whose
//! tables have no text, or a time range with no table, would answer such a
//! query with nothing instead of an error; so the same refusals are made
//! here, from the query's tree and the datasource's text dimensions alone.

use tantivy::query_grammar::{UserInputAst, UserInputLeaf};

use super::TextQueryError;
use super::query::{bare_word, parse};

/// Refuses `text` when it does not parse, names a field that is not among
/// `text_fields`, or uses a form the evaluation refuses — the error a
/// search of it in a table with those text fields would give.
pub fn check_query(text: &str, text_fields: &[String]) -> Result<(), TextQueryError> {
    let ast = parse(text)?;
    Checker { text, text_fields }.ast(&ast)
}

struct Checker<'a> {
    text: &'a str,
    text_fields: &'a [String],
}

impl Checker<'_> {
    fn ast(&self, ast: &UserInputAst) -> Result<(), TextQueryError> {
        match ast {
            UserInputAst::Clause(clauses) => clauses.iter().try_for_each(|(_, ast)| self.ast(ast)),
            UserInputAst::Boost(inner, _) => self.ast(inner),
            UserInputAst::Leaf(leaf) => self.leaf(leaf),
        }
    }

    fn leaf(&self, leaf: &UserInputLeaf) -> Result<(), TextQueryError> {
        match leaf {
            UserInputLeaf::All => Ok(()),
            UserInputLeaf::Literal(literal) => {
                if let Some(field) = &literal.field_name {
                    self.field(field)?;
                }
                if literal.delimiter == tantivy::query_grammar::Delimiter::None {
                    bare_word(&literal.phrase).map_err(|problem| self.unsupported(problem))?;
                }
                Ok(())
            }
            UserInputLeaf::Exists { field } => self.field(field),
            UserInputLeaf::Set { field, .. } => field.as_deref().map_or(Ok(()), |f| self.field(f)),
            UserInputLeaf::Range { .. } => Err(self.unsupported(
                "range queries ([a TO b]) are not supported on text; use a prefix (abc*) or a dimension filter",
            )),
            UserInputLeaf::Regex { .. } => Err(self.unsupported(
                "regular expressions (/.../) are not supported; use a prefix (abc*) or a phrase",
            )),
        }
    }

    fn field(&self, name: &str) -> Result<(), TextQueryError> {
        if self.text_fields.iter().any(|field| field == name) {
            return Ok(());
        }
        Err(TextQueryError::UnknownField {
            field: name.to_owned(),
            text_fields: self.text_fields.to_vec(),
        })
    }

    fn unsupported(&self, problem: &str) -> TextQueryError {
        TextQueryError::Syntax {
            query: self.text.to_owned(),
            problem: problem.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Vec<String> {
        vec!["message".into(), "agent".into()]
    }

    #[test]
    fn a_query_naming_only_text_fields_passes() {
        for query in [
            "needle",
            "message:needle AND agent:curl*",
            r#"message:"kernel panic" -agent:bot"#,
            "message:IN [a b]",
            "(a OR b) AND NOT c",
        ] {
            check_query(query, &fields()).unwrap_or_else(|e| panic!("{query}: {e}"));
        }
    }

    #[test]
    fn a_field_that_is_not_text_is_named_wherever_it_is() {
        for query in [
            "host:web",
            "needle AND (message:x OR host:web)",
            r#"-host:"a b""#,
            "host:IN [a b]",
        ] {
            match check_query(query, &fields()) {
                Err(TextQueryError::UnknownField { field, text_fields }) => {
                    assert_eq!(field, "host", "{query}");
                    assert_eq!(text_fields, fields());
                }
                other => panic!("{query}: {other:?}"),
            }
        }
    }

    #[test]
    fn forms_the_search_refuses_are_refused_here() {
        for query in [
            "message:[a TO b]",
            "message:/ne+dle/",
            "ne*dle",
            "message:(a",
        ] {
            assert!(
                matches!(
                    check_query(query, &fields()),
                    Err(TextQueryError::Syntax { .. })
                ),
                "{query}"
            );
        }
    }
}
