//! `query_string`: Lucene syntax, as Grafana writes its query box and its
//! ad-hoc filters (`service:"api" AND -host:"host-0001"`, `status:>=500`,
//! `path:/\/api\/v[12]\/.*/`, `message:"kernel panic"`).
//!
//! The text is parsed by tantivy's query grammar (the same parser the
//! full-text index uses) into clauses and leaves; each leaf is lowered by
//! the type of its field:
//!
//! - on a `text` field (or no field: every text field, or `default_field` /
//!   `fields`), a word, `"phrase"`, `prefix*` or `"phrase"~slop` becomes a
//!   full-text search of that field;
//! - on a keyword or number, a value is equality (`*` and `?` inside it,
//!   with `analyze_wildcard`, a pattern), `field:>v` / `[a TO b]` a range,
//!   `field:/re/` an anchored regular expression, `field:*` "exists",
//!   `field:IN [a b]` a set;
//! - on the time field, a value or range of instants.
//!
//! Clauses combine as Lucene's do: `+`/`AND` must match, `-`/`NOT` must
//! not, and the others are OR'ed (`default_operator: AND` makes them
//! required), optional when a required clause is present.

use serde_json::Value;
use tantivy_query_grammar::{
    Delimiter, Occur, UserInputAst, UserInputBound, UserInputLeaf, UserInputLiteral,
    parse_query_lenient,
};

use super::fields::{FieldType, IndexField};
use super::query_dsl::{QueryLowering, all_of, any_of, match_all, not_null, quote};
use crate::druid::json::{Field, JsonError};
use crate::plan::Filter;

/// Lowers a `query_string` (or `simple_query_string`) body.
pub fn lower(lowering: &QueryLowering<'_>, body: &Field<'_>) -> Result<Filter, JsonError> {
    let query_field = body.required("query")?;
    let query = query_field.string()?;
    let mut defaults = Vec::new();
    if let Some(field) = body.optional("default_field").filter(|f| !f.is_null()) {
        defaults.push(field.string()?);
    }
    if let Some(fields) = body.optional("fields").filter(|f| !f.is_null()) {
        for field in fields.elements()? {
            // A boost (`message^2`) changes scores only.
            let name = field.string()?;
            defaults.push(name.split('^').next().unwrap_or_default().to_owned());
        }
    }
    defaults.retain(|name| name != "*");
    for name in &defaults {
        lowering
            .fields
            .require(name)
            .map_err(|message| body.invalid(message))?;
    }
    let and_by_default = match body.optional("default_operator").filter(|f| !f.is_null()) {
        Some(operator) => operator.string()?.eq_ignore_ascii_case("and"),
        None => false,
    };
    let wildcards = match body.optional("analyze_wildcard").filter(|f| !f.is_null()) {
        Some(flag) => flag.boolean()?,
        None => false,
    };
    if query.trim().is_empty() || query.trim() == "*" {
        return Ok(match_all());
    }
    let (ast, errors) = parse_query_lenient(&query);
    if let Some(error) = errors.first() {
        return Err(query_field.invalid(format!(
            "Failed to parse query [{query}]: {} at character {}",
            error.message, error.pos
        )));
    }
    let reader = StringQuery {
        lowering,
        at: &query_field,
        defaults: &defaults,
        and_by_default,
        wildcards,
    };
    reader.ast(ast)
}

struct StringQuery<'a, 'f> {
    lowering: &'a QueryLowering<'a>,
    at: &'a Field<'f>,
    defaults: &'a [String],
    and_by_default: bool,
    wildcards: bool,
}

impl StringQuery<'_, '_> {
    fn ast(&self, ast: UserInputAst) -> Result<Filter, JsonError> {
        match ast {
            UserInputAst::Boost(inner, _) => self.ast(*inner),
            UserInputAst::Leaf(leaf) => self.leaf(*leaf),
            UserInputAst::Clause(clauses) => {
                let mut must = Vec::new();
                let mut should = Vec::new();
                let mut must_not = Vec::new();
                for (occur, clause) in clauses {
                    let filter = self.ast(clause)?;
                    match occur {
                        Some(Occur::Must) => must.push(filter),
                        Some(Occur::MustNot) => must_not.push(Filter::Not(Box::new(filter))),
                        Some(Occur::Should) => should.push(filter),
                        None if self.and_by_default => must.push(filter),
                        None => should.push(filter),
                    }
                }
                if must.is_empty() && !should.is_empty() {
                    must.push(any_of(should));
                }
                must.extend(must_not);
                Ok(all_of(must))
            }
        }
    }

    fn leaf(&self, leaf: UserInputLeaf) -> Result<Filter, JsonError> {
        match leaf {
            UserInputLeaf::All => Ok(match_all()),
            UserInputLeaf::Literal(literal) => self.literal(literal),
            UserInputLeaf::Exists { field } => Ok(not_null(self.field(&field)?)),
            UserInputLeaf::Set { field, elements } => {
                let field = self.named(field, "a set (IN [...])")?;
                self.each(field, |field| {
                    Ok(any_of(
                        elements
                            .iter()
                            .map(|element| self.value(field, element))
                            .collect::<Result<_, _>>()?,
                    ))
                })
            }
            UserInputLeaf::Regex { field, pattern } => {
                let field = self.named(field, "a regular expression")?;
                self.each(field, |field| match field.field_type {
                    FieldType::Keyword => Ok(Filter::Regex {
                        column: field.column.clone(),
                        pattern: format!("^(?:{pattern})$"),
                    }),
                    other => Err(self.at.invalid(format!(
                        "a regular expression needs a keyword field; [{}] is {}",
                        field.name,
                        other.name()
                    ))),
                })
            }
            UserInputLeaf::Range {
                field,
                lower,
                upper,
            } => {
                let field = self.named(field, "a range")?;
                let mut bounds = serde_json::Map::new();
                for (bound, strict, inclusive) in [(lower, "gt", "gte"), (upper, "lt", "lte")] {
                    match bound {
                        UserInputBound::Inclusive(value) if value != "*" => {
                            bounds.insert(inclusive.to_owned(), Value::String(value));
                        }
                        UserInputBound::Exclusive(value) if value != "*" => {
                            bounds.insert(strict.to_owned(), Value::String(value));
                        }
                        _ => {}
                    }
                }
                let bounds = Value::Object(bounds);
                self.each(field, |field| {
                    let query = serde_json::json!({"range": {field.name.clone(): bounds.clone()}});
                    self.lowering
                        .lower(&Field::root(&query))
                        .map_err(|error| self.at.invalid(error.message))
                })
            }
        }
    }

    fn literal(&self, literal: UserInputLiteral) -> Result<Filter, JsonError> {
        let phrase = literal.phrase.clone();
        let names: Vec<String> = match &literal.field_name {
            Some(name) => vec![name.clone()],
            None if self.defaults.is_empty() => {
                return Ok(Filter::FullText {
                    query: render(&literal),
                    fields: Vec::new(),
                });
            }
            None => self.defaults.to_vec(),
        };
        let mut filters = Vec::new();
        for name in &names {
            let field = self.field(name)?;
            filters.push(match field.field_type {
                FieldType::Text => Filter::FullText {
                    query: render(&literal),
                    fields: vec![field.name.clone()],
                },
                _ if literal.prefix => self.lowering.prefix(field, &phrase, self.at)?,
                _ if self.wildcards
                    && literal.delimiter == Delimiter::None
                    && phrase.contains(['*', '?']) =>
                {
                    self.lowering.wildcard(field, &phrase, self.at)?
                }
                _ => self.value(field, &phrase)?,
            });
        }
        Ok(any_of(filters))
    }

    /// Equality of a field with one value, as a `term` query.
    fn value(&self, field: &IndexField, value: &str) -> Result<Filter, JsonError> {
        self.lowering
            .term(field, &Value::String(value.to_owned()), self.at)
    }

    fn field(&self, name: &str) -> Result<&IndexField, JsonError> {
        self.lowering
            .fields
            .require(name)
            .map_err(|message| self.at.invalid(message))
    }

    /// The field a leaf names, or the default fields; `what` says what
    /// needs one.
    fn named(&self, field: Option<String>, what: &str) -> Result<Vec<&IndexField>, JsonError> {
        match field {
            Some(name) => Ok(vec![self.field(&name)?]),
            None if !self.defaults.is_empty() => {
                self.defaults.iter().map(|name| self.field(name)).collect()
            }
            None => Err(self
                .at
                .invalid(format!("{what} needs a field, as in status:>=500"))),
        }
    }

    fn each(
        &self,
        fields: Vec<&IndexField>,
        lower: impl Fn(&IndexField) -> Result<Filter, JsonError>,
    ) -> Result<Filter, JsonError> {
        Ok(any_of(
            fields.into_iter().map(lower).collect::<Result<_, _>>()?,
        ))
    }
}

/// A literal as the full-text index's own Lucene reads it.
fn render(literal: &UserInputLiteral) -> String {
    let mut query = quote(&literal.phrase);
    if literal.slop > 0 {
        query.push_str(&format!("~{}", literal.slop));
    } else if literal.prefix {
        query.push('*');
    }
    query
}

#[cfg(test)]
mod tests;
