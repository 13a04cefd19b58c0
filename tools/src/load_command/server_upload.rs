//! `strata load --server URL`: the files sent to a running server, which
//! loads them with the same engine (`/v1/datasources/{name}/loads`, see the
//! server's `routes::loads`).
//!
//! The files are found and their formats told here first, so that a typo in
//! a path fails before anything is sent. Each file then streams up as it is
//! read from disk; the bar shows the upload, then the server's progress
//! through the load.

use std::fs::File;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use indicatif::ProgressBar;
use reqwest::StatusCode;
use reqwest::blocking::{Body, Client, Response};
use serde_json::{Value, json};
use strata_ingest::bulk_load::{InputFile, LoadMode, LoadOptions};

use super::LoadArgs;

/// Uploads `inputs` to `server` and waits for the load; returns the report
/// the server wrote.
pub fn load_through_server(
    server: &str,
    args: &LoadArgs,
    inputs: &[InputFile],
    options: &LoadOptions,
    bar: &ProgressBar,
) -> anyhow::Result<String> {
    let server = server.trim_end_matches('/');
    // Uploads and loads run as long as they take: no client timeout.
    let client = Client::builder().timeout(None).build()?;
    let name = &args.datasource;
    if let Some(spec) = &args.spec {
        create_if_missing(&client, server, name, spec)?;
    }
    let opened = expect_ok(
        client
            .post(format!("{server}/v1/datasources/{name}/loads"))
            .send()
            .with_context(|| format!("reaching the server at {server}"))?,
    )?;
    let id = opened["id"]
        .as_str()
        .context("the server's answer to opening a load has no id")?
        .to_owned();

    let sent = Arc::new(AtomicU64::new(0));
    for (sequence, input) in inputs.iter().enumerate() {
        let file =
            File::open(&input.path).with_context(|| format!("opening {}", input.path.display()))?;
        let counted = CountedFile {
            file,
            sent: sent.clone(),
            bar: bar.clone(),
        };
        let file_name = input.path.file_name().map_or_else(
            || format!("file-{sequence}"),
            |n| n.to_string_lossy().into_owned(),
        );
        let mut url = reqwest::Url::parse(&format!(
            "{server}/v1/datasources/{name}/loads/{id}/files/{sequence}"
        ))
        .with_context(|| format!("`{server}` is not a server URL; write it as http://HOST:PORT"))?;
        url.query_pairs_mut().append_pair("name", &file_name);
        expect_ok(
            client
                .put(url)
                .body(Body::sized(counted, input.bytes))
                .send()
                .with_context(|| format!("sending {}", input.path.display()))?,
        )?;
    }

    let start = json!({
        "append": options.mode == LoadMode::Append,
        "maxErrors": options.max_errors,
        "format": args.format.map(|format| format.to_string()),
        "memoryBytes": options.memory_bytes,
        "threads": args.threads,
    });
    expect_ok(
        client
            .post(format!("{server}/v1/datasources/{name}/loads/{id}/start"))
            .json(&start)
            .send()?,
    )?;
    bar.set_position(0);
    loop {
        let status = expect_ok(
            client
                .get(format!("{server}/v1/datasources/{name}/loads/{id}"))
                .send()?,
        )?;
        bar.set_position(status["bytesRead"].as_u64().unwrap_or(0));
        bar.set_message(format!(
            "{} rows loaded on the server, {} rejected",
            status["rowsRead"], status["rowsRejected"]
        ));
        match status["state"].as_str() {
            Some("running") => std::thread::sleep(Duration::from_millis(250)),
            Some("succeeded") => {
                return Ok(status["report"]["summary"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned());
            }
            _ => bail!(
                "the load failed on the server: {}",
                status["error"].as_str().unwrap_or("(no reason given)")
            ),
        }
    }
}

/// Creates datasource `name` from the spec file when the server lacks it.
fn create_if_missing(
    client: &Client,
    server: &str,
    name: &str,
    spec: &std::path::Path,
) -> anyhow::Result<()> {
    let found = client
        .get(format!("{server}/v1/datasources/{name}"))
        .send()
        .with_context(|| format!("reaching the server at {server}"))?;
    if found.status() != StatusCode::NOT_FOUND {
        expect_ok(found)?;
        return Ok(());
    }
    let text = std::fs::read_to_string(spec)
        .with_context(|| format!("reading the spec {}", spec.display()))?;
    expect_ok(
        client
            .post(format!("{server}/v1/datasources"))
            .header("content-type", "application/json")
            .body(text)
            .send()?,
    )?;
    Ok(())
}

/// The JSON of a successful answer; the server's message otherwise.
fn expect_ok(response: Response) -> anyhow::Result<Value> {
    let status = response.status();
    let body: Value = response.json().unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(body);
    }
    bail!(
        "the server answered {status}: {}",
        body["message"].as_str().unwrap_or("(no message)")
    )
}

/// A file whose bytes, as they are read for the upload, move the bar.
struct CountedFile {
    file: File,
    sent: Arc<AtomicU64>,
    bar: ProgressBar,
}

impl Read for CountedFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.file.read(buf)?;
        let total = self.sent.fetch_add(read as u64, Ordering::Relaxed) + read as u64;
        self.bar.set_position(total);
        Ok(read)
    }
}
