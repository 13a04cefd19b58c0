//! Index names and patterns, as a search's path or an `_msearch` header
//! names them: `logs`, `logs,metrics`, `web*`, `*`, `_all`, `-web_old`
//! (excluded), a list in an array.

/// The datasources among `names` that `expression` selects, in the order of
/// `names`. A name without a wildcard that is not there is an error (unless
/// `ignore_unavailable`); a pattern may match nothing.
pub fn resolve(
    expression: &[String],
    names: &[String],
    ignore_unavailable: bool,
) -> Result<Vec<String>, String> {
    let mut selected: Vec<bool> = vec![false; names.len()];
    let parts: Vec<&str> = expression
        .iter()
        .flat_map(|part| part.split(','))
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect();
    let parts = if parts.is_empty() {
        vec!["_all"]
    } else {
        parts
    };
    for part in parts {
        let (exclude, pattern) = match part.strip_prefix('-') {
            Some(pattern) => (true, pattern),
            None => (false, part),
        };
        let pattern = if pattern == "_all" { "*" } else { pattern };
        let mut matched = false;
        for (i, name) in names.iter().enumerate() {
            if super::search::glob(pattern, name) {
                selected[i] = !exclude;
                matched = true;
            }
        }
        if !matched && !exclude && !pattern.contains('*') && !ignore_unavailable {
            return Err(pattern.to_owned());
        }
    }
    Ok(names
        .iter()
        .zip(selected)
        .filter(|(_, selected)| *selected)
        .map(|(name, _)| name.clone())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::resolve;

    fn names() -> Vec<String> {
        ["access", "web_events", "web_old"]
            .map(String::from)
            .to_vec()
    }

    fn of(expression: &[&str]) -> Result<Vec<String>, String> {
        let expression: Vec<String> = expression.iter().map(|part| part.to_string()).collect();
        resolve(&expression, &names(), false)
    }

    #[test]
    fn names_lists_patterns_and_exclusions() {
        assert_eq!(of(&["access"]), Ok(vec!["access".to_owned()]));
        assert_eq!(
            of(&["web*"]),
            Ok(vec!["web_events".to_owned(), "web_old".to_owned()])
        );
        assert_eq!(of(&["web*,-web_old"]), Ok(vec!["web_events".to_owned()]));
        assert_eq!(
            of(&["access", "web_old"]),
            Ok(vec!["access".to_owned(), "web_old".to_owned()])
        );
        assert_eq!(of(&["_all"]).map(|all| all.len()), Ok(3));
        assert_eq!(of(&["*"]).map(|all| all.len()), Ok(3));
        assert_eq!(of(&["nope*"]), Ok(Vec::new()));
        assert_eq!(of(&["nope"]), Err("nope".to_owned()));
        assert_eq!(
            resolve(&["nope".to_owned(), "access".to_owned()], &names(), true),
            Ok(vec!["access".to_owned()])
        );
    }
}
