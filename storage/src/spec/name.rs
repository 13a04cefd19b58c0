//! Datasource names.
//!
//! A datasource name appears in URLs (`/v1/datasources/{name}`, `/{index}/_search`)
//! and in file names, so it is kept to 1..=200 characters of `[A-Za-z0-9_.-]`. It
//! cannot start with `_`, `-` or `.` (Elasticsearch's routes start with `_`, and a
//! leading dot or dash makes awkward file names), and cannot be one of the route
//! prefixes `v1`, `druid`, `status` and `metrics`, in any letter case.
//!
//! These rules also make every name one safe path component: no separator, no
//! `.` or `..`, nothing a file system treats specially. The catalog relies on
//! that to name a datasource's files after it (`catalog/<name>.json`,
//! `segments/<name>/`), so a [`DataSourceName`] is all it takes to know that a
//! name cannot lead outside the data directory.
//!
//! A name is a plain JSON string in serde.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The longest name, in bytes (all its characters are ASCII): file systems
/// allow 255 bytes per file name, and the catalog appends up to
/// `.json.tombstone` to a datasource name.
const LONGEST_NAME: usize = 200;
const RESERVED_NAMES: [&str; 4] = ["v1", "druid", "status", "metrics"];

/// A valid datasource name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DataSourceName(String);

/// Why a datasource name is not valid, with how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidDataSourceName {
    #[error("a datasource name must not be empty")]
    Empty,
    #[error("the datasource name is {length} characters long; the limit is {LONGEST_NAME}")]
    TooLong { length: usize },
    #[error(
        "datasource name {name:?} contains {character:?}; use only letters, digits, '_', '.' and '-'"
    )]
    BadCharacter { name: String, character: char },
    #[error("datasource name {name:?} starts with {first:?}; start it with a letter or a digit")]
    BadStart { name: String, first: char },
    #[error("{name:?} is reserved for an HTTP route; choose another datasource name")]
    Reserved { name: String },
}

impl DataSourceName {
    pub fn new(name: impl Into<String>) -> Result<Self, InvalidDataSourceName> {
        let name = name.into();
        let Some(first) = name.chars().next() else {
            return Err(InvalidDataSourceName::Empty);
        };
        if let Some(character) = name.chars().find(|character| {
            !(character.is_ascii_alphanumeric() || matches!(character, '_' | '.' | '-'))
        }) {
            return Err(InvalidDataSourceName::BadCharacter { name, character });
        }
        if name.len() > LONGEST_NAME {
            return Err(InvalidDataSourceName::TooLong { length: name.len() });
        }
        if matches!(first, '_' | '.' | '-') {
            return Err(InvalidDataSourceName::BadStart { name, first });
        }
        if RESERVED_NAMES
            .iter()
            .any(|reserved| reserved.eq_ignore_ascii_case(&name))
        {
            return Err(InvalidDataSourceName::Reserved { name });
        }
        Ok(DataSourceName(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for DataSourceName {
    type Err = InvalidDataSourceName;

    fn from_str(name: &str) -> Result<Self, InvalidDataSourceName> {
        DataSourceName::new(name)
    }
}

impl fmt::Display for DataSourceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for DataSourceName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Lets maps keyed by name be searched with a `&str`; sound because equality,
/// order and hash are those of the inner `String`.
impl Borrow<str> for DataSourceName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DataSourceName {
    type Error = InvalidDataSourceName;

    fn try_from(name: String) -> Result<Self, InvalidDataSourceName> {
        DataSourceName::new(name)
    }
}

impl From<DataSourceName> for String {
    fn from(name: DataSourceName) -> String {
        name.0
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;
    use std::path::{Component, Path};

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn accepts_url_safe_names() {
        for name in [
            "access",
            "web.logs-2024",
            "A_1",
            "9lives",
            "druid2",
            &"x".repeat(LONGEST_NAME),
        ] {
            assert_eq!(DataSourceName::new(name).unwrap().as_str(), name);
        }
    }

    #[test]
    fn rejects_names_that_clash_with_routes_or_files() {
        assert_eq!(DataSourceName::new(""), Err(InvalidDataSourceName::Empty));
        assert!(matches!(
            DataSourceName::new("x".repeat(LONGEST_NAME + 1)),
            Err(InvalidDataSourceName::TooLong { length: 201 })
        ));
        assert!(matches!(
            DataSourceName::new("web logs"),
            Err(InvalidDataSourceName::BadCharacter { character: ' ', .. })
        ));
        assert!(matches!(
            DataSourceName::new("naïve"),
            Err(InvalidDataSourceName::BadCharacter {
                character: 'ï', ..
            })
        ));
        for bad_start in ["_search", ".hidden", "-x"] {
            assert!(matches!(
                DataSourceName::new(bad_start),
                Err(InvalidDataSourceName::BadStart { .. })
            ));
        }
        for reserved in ["v1", "druid", "status", "metrics", "Metrics"] {
            assert!(matches!(
                DataSourceName::new(reserved),
                Err(InvalidDataSourceName::Reserved { .. })
            ));
        }
    }

    #[test]
    fn rejects_names_that_would_leave_a_directory() {
        for name in [
            ".",
            "..",
            "../escape",
            "a/b",
            "a\\b",
            "/abs",
            "nul\0",
            "tab\t",
        ] {
            assert!(DataSourceName::new(name).is_err(), "{name:?} was accepted");
        }
    }

    #[test]
    fn serializes_as_a_plain_string_and_checks_it_on_the_way_in() {
        let name = DataSourceName::new("weblogs").unwrap();
        assert_eq!(serde_json::to_string(&name).unwrap(), r#""weblogs""#);
        assert_eq!(
            serde_json::from_str::<DataSourceName>(r#""weblogs""#).unwrap(),
            name
        );
        let err = serde_json::from_str::<DataSourceName>(r#""../escape""#).unwrap_err();
        assert!(err.to_string().contains("contains '/'"), "{err}");
    }

    proptest! {
        #[test]
        fn every_accepted_name_is_one_plain_path_component(name in "[a-z0-9./_\\\\-]{1,6}") {
            if let Ok(valid) = DataSourceName::new(name) {
                let mut components = Path::new(valid.as_str()).components();
                prop_assert_eq!(
                    components.next(),
                    Some(Component::Normal(OsStr::new(valid.as_str())))
                );
                prop_assert_eq!(components.next(), None);
            }
        }
    }
}
