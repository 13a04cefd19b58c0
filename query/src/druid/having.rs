//! Druid having specs into the plan's [`Having`]: which groupBy result rows
//! the answer keeps.
//!
//! | Druid having spec | plan |
//! |---|---|
//! | `greaterThan`, `lessThan`, `equalTo` (`aggregation`, `value`) | [`Having::Compare`] |
//! | `dimSelector` (`dimension`, `value`) | [`Having::DimensionEquals`] |
//! | `filter` (`filter`: any [filter]) | [`Having::Filter`] |
//! | `and`, `or` (`havingSpecs`), `not` (`havingSpec`) | [`Having::And`], [`Having::Or`], [`Having::Not`] |
//!
//! A `dimSelector` with an `extractionFn` is refused: the answer would
//! ignore it.

use super::filter;
use super::json::{Field, JsonError};
use crate::plan::{Having, HavingComparison};

/// Reads one having spec.
pub fn parse(field: &Field<'_>) -> Result<Having, JsonError> {
    let kind = field.required("type")?.string()?;
    let compare = |comparison: HavingComparison| -> Result<Having, JsonError> {
        Ok(Having::Compare {
            field: field.required("aggregation")?.string()?,
            comparison,
            value: field.required("value")?.number()?,
        })
    };
    let list = |name: &str| -> Result<Vec<Having>, JsonError> {
        field
            .required(name)?
            .elements()?
            .iter()
            .map(parse)
            .collect()
    };
    Ok(match kind.as_str() {
        "greaterThan" => compare(HavingComparison::GreaterThan)?,
        "lessThan" => compare(HavingComparison::LessThan)?,
        "equalTo" => compare(HavingComparison::EqualTo)?,
        "dimSelector" => {
            if let Some(extraction) = field.optional("extractionFn").filter(|f| !f.is_null()) {
                return Err(extraction
                    .invalid("extraction functions in having are not supported yet; remove it"));
            }
            Having::DimensionEquals {
                dimension: field.required("dimension")?.string()?,
                value: field
                    .optional("value")
                    .map(|value| value.text_or_null())
                    .transpose()?
                    .flatten(),
            }
        }
        "filter" => Having::Filter(filter::parse(&field.required("filter")?)?),
        "and" => Having::And(list("havingSpecs")?),
        "or" => Having::Or(list("havingSpecs")?),
        "not" => Having::Not(Box::new(parse(&field.required("havingSpec")?)?)),
        other => {
            return Err(field.required("type")?.invalid(format!(
                "having spec `{other}` is not supported; use greaterThan, lessThan, equalTo, dimSelector, filter, and, or or not"
            )));
        }
    })
}
