//! `strata query`: a Druid native query from a file, sent to a running
//! server, its answer printed.
//!
//! The file holds one query as `POST /druid/v2` takes it; `-` reads it
//! from stdin, so a query can be piped in or written inline with a heredoc.
//! The answer is printed pretty to stdout, ready for `jq` or a diff. A
//! failed query prints the server's message — which names the field at
//! fault — to stderr and exits non-zero, so scripts can tell.
//!
//! No HTTP timeout is set here: the query's own (`context.timeout`, else
//! the server's `--query-timeout`) decides, and the server answers 504 at
//! it.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Flags of `strata query`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Example, against `strata serve --demo`:

  cat > top-services.json <<'EOF'
  {\"queryType\": \"topN\", \"dataSource\": \"access\", \"intervals\": [\"2024-01-01/2024-01-08\"],
   \"granularity\": \"all\", \"dimension\": \"service\", \"metric\": \"requests\", \"threshold\": 3,
   \"aggregations\": [{\"type\": \"longSum\", \"name\": \"requests\", \"fieldName\": \"count\"}],
   \"context\": {\"timeout\": 10000}}
  EOF
  strata query top-services.json
  echo '{\"queryType\": \"timeBoundary\", \"dataSource\": \"access\"}' | strata query -")]
pub struct QueryArgs {
    /// A file holding one Druid native query (JSON); `-` reads stdin.
    pub file: PathBuf,

    /// The server's base URL.
    #[arg(long, env = "STRATA_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
}

/// Why `strata query` failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryCommandError {
    #[error("cannot read the query from {}: {source}", describe(path))]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "cannot reach the server at {url}: {source}; is `strata serve` running there? (--url, STRATA_URL)"
    )]
    Send {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the server answered {status}: {message}")]
    Failed { status: u16, message: String },
    #[error("the server's answer is not JSON: {0}")]
    NotJson(String),
}

fn describe(path: &Path) -> String {
    if path == Path::new("-") {
        "stdin".to_owned()
    } else {
        path.display().to_string()
    }
}

/// Sends the query and prints the answer. See the [module docs](self).
pub fn run(args: QueryArgs) -> Result<(), QueryCommandError> {
    let query = read_query(&args.file)?;
    let answer = send(&args.url, query)?;
    let pretty = serde_json::to_string_pretty(&answer)
        .map_err(|error| QueryCommandError::NotJson(error.to_string()))?;
    println!("{pretty}");
    Ok(())
}

fn read_query(path: &Path) -> Result<Vec<u8>, QueryCommandError> {
    let read = if path == Path::new("-") {
        let mut query = Vec::new();
        std::io::stdin().read_to_end(&mut query).map(|_| query)
    } else {
        std::fs::read(path)
    };
    read.map_err(|source| QueryCommandError::Read {
        path: path.to_owned(),
        source,
    })
}

/// POSTs `query` to `/druid/v2` of the server at `base_url`; its JSON
/// answer, or its error message.
fn send(base_url: &str, query: Vec<u8>) -> Result<Value, QueryCommandError> {
    let url = format!("{}/druid/v2", base_url.trim_end_matches('/'));
    let sent = reqwest::blocking::Client::builder()
        .timeout(None)
        .build()
        .and_then(|client| {
            client
                .post(&url)
                .header("content-type", "application/json")
                .body(query)
                .send()
        })
        .and_then(|response| {
            let status = response.status().as_u16();
            response.text().map(|text| (status, text))
        });
    let (status, text) = sent.map_err(|source| QueryCommandError::Send {
        url: url.clone(),
        source,
    })?;
    if (200..300).contains(&status) {
        return serde_json::from_str(&text)
            .map_err(|error| QueryCommandError::NotJson(format!("{error}: {text}")));
    }
    Err(QueryCommandError::Failed {
        status,
        message: error_message(&text),
    })
}

/// The message of an error answer: Druid's shape (`error`, `errorMessage`)
/// on the Druid routes, Strata's (`error`, `message`) elsewhere, the body
/// itself when it is neither.
fn error_message(body: &str) -> String {
    let Ok(Value::Object(error)) = serde_json::from_str::<Value>(body) else {
        return body.trim().to_owned();
    };
    let text = |name: &str| error.get(name).and_then(Value::as_str);
    match (
        text("error"),
        text("errorMessage").or_else(|| text("message")),
    ) {
        (Some(kind), Some(message)) => format!("{kind}: {message}"),
        (None, Some(message)) | (Some(message), None) => message.to_owned(),
        (None, None) => body.trim().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_are_read_from_either_shape() {
        assert_eq!(
            error_message(
                r#"{"error":"Unknown exception","errorMessage":"intervals: is missing","errorClass":"x","host":null}"#
            ),
            "Unknown exception: intervals: is missing"
        );
        assert_eq!(
            error_message(r#"{"error":"not_found","message":"no such endpoint"}"#),
            "not_found: no such endpoint"
        );
        assert_eq!(error_message("  plain text \n"), "plain text");
        assert_eq!(error_message(r#"{"other": 1}"#), r#"{"other": 1}"#);
    }

    #[test]
    fn a_missing_file_is_named() {
        let error = read_query(Path::new("/no/such/query.json")).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("cannot read the query from /no/such/query.json: "),
            "{error}"
        );
    }
}
