//! `strata load`: bulk-load history from files into a datasource.
//!
//! With `--server URL` the files go to a running server, which loads them
//! with the same engine (`server_upload`). With `--data-dir` it builds
//! segments offline, in this process, and
//! publishes them into that directory's catalog; the directory's lock makes
//! it refuse, with the holder's pid, while a server uses the directory. The
//! engine is `strata_ingest::bulk_load`: replace by default (loading the
//! same files twice leaves the same data), `--append` to add instead,
//! memory-bounded, all-or-nothing.
//!
//! A progress bar on stderr shows bytes read, rows per second and the time
//! left; the report at the end goes to stdout.

mod server_upload;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use strata_ingest::bulk_load::{self, InputFile, InputFormat, LoadMode, LoadOptions, LoadProgress};
use strata_storage::catalog::{Catalog, CatalogError, FileCatalog};
use strata_storage::spec::DataSourceSpec;

/// Flags of `strata load`.
#[derive(clap::Args, Debug)]
#[command(group = clap::ArgGroup::new("target").required(true).args(["data_dir", "server"]))]
pub struct LoadArgs {
    /// The datasource to load into. It must exist, unless --spec creates it.
    #[arg(long)]
    pub datasource: String,

    /// Files, directories (read recursively) and globs (`logs/*.ndjson.gz`;
    /// quote them so the shell leaves them alone). NDJSON, CSV with a header
    /// row, Parquet and Arrow IPC; gzip and zstd are recognised by their
    /// magic bytes.
    #[arg(required = true)]
    pub paths: Vec<String>,

    /// Build segments offline into this data directory. Refused while a
    /// server holds the directory.
    #[arg(long, env = "STRATA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// Send the files to the server at this URL (`http://127.0.0.1:8080`),
    /// which loads them with the same engine while it keeps serving.
    #[arg(long, conflicts_with = "data_dir")]
    pub server: Option<String>,

    /// A datasource spec (JSON file) to create the datasource with when it
    /// does not exist yet.
    #[arg(long)]
    pub spec: Option<PathBuf>,

    /// Read every file as this format instead of telling it from the file:
    /// ndjson, csv, parquet, arrow (IPC file) or arrows (IPC stream).
    #[arg(long)]
    pub format: Option<InputFormat>,

    /// Add the loaded rows to the time chunks they fall in, instead of
    /// replacing what those chunks hold.
    #[arg(long)]
    pub append: bool,

    /// Memory for rows held before they are written out: a number of bytes
    /// with an optional unit, `512MiB`, `2GiB`, `1G`.
    #[arg(long, env = "STRATA_LOAD_MEMORY", default_value = "1GiB", value_parser = parse_bytes)]
    pub memory: usize,

    /// Give up, publishing nothing, once more than this many rows are
    /// rejected. Without it every bad row is reported and the rest loads.
    #[arg(long)]
    pub max_errors: Option<u64>,

    /// Threads that parse and build segments (default: one per core).
    #[arg(long, env = "STRATA_LOAD_THREADS")]
    pub threads: Option<usize>,
}

/// Runs `strata load`.
pub fn run(args: LoadArgs) -> anyhow::Result<()> {
    let inputs = bulk_load::find_inputs(&args.paths, args.format)?;
    let mut options = LoadOptions {
        mode: LoadMode::from_append(args.append),
        memory_bytes: args.memory,
        max_errors: args.max_errors,
        ..LoadOptions::default()
    };
    if let Some(threads) = args.threads {
        options.threads = threads.max(1);
    }
    let bar = progress_bar(inputs.iter().map(|input| input.bytes).sum());
    let summary = match (&args.server, &args.data_dir) {
        (Some(server), _) => {
            server_upload::load_through_server(server, &args, &inputs, &options, &bar)
        }
        (None, Some(data_dir)) => load_offline(data_dir, &args, &inputs, &options, &bar),
        (None, None) => Err(anyhow::anyhow!(
            "name a target: --data-dir DIR or --server URL"
        )),
    };
    bar.finish_and_clear();
    print!("{}", summary?);
    Ok(())
}

/// Loads into the data directory `data_dir` in this process.
fn load_offline(
    data_dir: &Path,
    args: &LoadArgs,
    inputs: &[InputFile],
    options: &LoadOptions,
    bar: &ProgressBar,
) -> anyhow::Result<String> {
    let catalog = FileCatalog::open(data_dir).map_err(|error| match error {
        CatalogError::DataDirInUse { .. } => anyhow::anyhow!(
            "{error}. A running server holds it: stop the server first, or send the load through it with --server URL"
        ),
        error => anyhow::Error::new(error),
    })?;
    ensure_datasource(&catalog, args)?;
    let progress = LoadProgress::default();
    let done = AtomicBool::new(false);
    let report = std::thread::scope(|scope| {
        scope.spawn(|| {
            let started = std::time::Instant::now();
            while !done.load(Ordering::Relaxed) {
                let rows = progress.rows_read.load(Ordering::Relaxed);
                let rejected = progress.rows_rejected.load(Ordering::Relaxed);
                bar.set_position(progress.bytes_read.load(Ordering::Relaxed));
                bar.set_message(format!(
                    "{rows} rows ({:.0}/s), {rejected} rejected",
                    rows as f64 / started.elapsed().as_secs_f64().max(1e-3)
                ));
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        let report = bulk_load::load(&catalog, &args.datasource, inputs, options, &progress);
        done.store(true, Ordering::Relaxed);
        report
    })?;
    Ok(report.to_string())
}

/// Creates the datasource from `--spec` when it does not exist; refuses a
/// spec that differs from the one the datasource has.
fn ensure_datasource(catalog: &dyn Catalog, args: &LoadArgs) -> anyhow::Result<()> {
    let Some(path) = &args.spec else {
        return Ok(());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the spec {}", path.display()))?;
    let spec = DataSourceSpec::from_json(&text)
        .with_context(|| format!("the spec {} is not valid", path.display()))?;
    anyhow::ensure!(
        spec.name() == args.datasource,
        "the spec {} is for datasource `{}`, but --datasource is `{}`",
        path.display(),
        spec.name(),
        args.datasource
    );
    match catalog.datasource(spec.name()) {
        None => {
            catalog.create_datasource(spec)?;
        }
        Some(state) if state.spec == spec => {}
        Some(_) => anyhow::bail!(
            "datasource `{}` exists with another spec than {}; leave --spec out to load with the existing one",
            args.datasource,
            path.display()
        ),
    }
    Ok(())
}

/// A bar on stderr over `total` bytes, hidden when stderr is not a terminal.
fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg} ETA {eta}",
        )
        .expect("the progress template is valid"),
    );
    bar
}

/// A size in bytes: a number with an optional unit (`k`/`KiB`, `M`/`MiB`,
/// `G`/`GiB`, all powers of 1,024; `B` or none for bytes).
fn parse_bytes(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number
        .parse()
        .map_err(|_| format!("`{text}` does not start with a number of bytes"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => {
            return Err(format!(
                "`{text}` has an unknown unit; write sizes like `512MiB` or `2GiB`"
            ));
        }
    };
    number
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("`{text}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(parse_bytes("512MiB"), Ok(512 << 20));
        assert_eq!(parse_bytes("2G"), Ok(2 << 30));
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert!(parse_bytes("lots").is_err());
        assert!(
            parse_bytes("3 parsecs")
                .unwrap_err()
                .contains("unknown unit")
        );
    }
}
