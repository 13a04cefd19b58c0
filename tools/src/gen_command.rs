//! `strata gen`: write the reference access-log dataset to a file or stdout.
//!
//! The command is a thin shell around [`crate::dataset`]: it picks the format (the `--format`
//! flag, else the output's extension, else NDJSON), drives an [`AccessLogGenerator`] into the
//! matching writer, and shows progress on stderr. A file is written to `PATH.tmp` and renamed
//! into place only once complete and synced, so an interrupted run never leaves a truncated file
//! under the name a benchmark would pick up. Every flag can also be set through a
//! `STRATA_GEN_*` environment variable.

use std::ffi::OsStr;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use indicatif::{HumanCount, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::dataset::{
    AccessLogGenerator, CsvWriter, DEFAULT_SEED, DatasetWriteError, EventWriter, NdjsonWriter,
    ParquetWriter, write_events,
};

/// Events generated when `--events` is not given.
pub const DEFAULT_EVENT_COUNT: u64 = 1_000_000;

/// Bytes buffered between the writers and the output.
const OUTPUT_BUFFER_BYTES: usize = 4 * 1024 * 1024;

/// Arguments of `strata gen`.
#[derive(clap::Args, Debug)]
// The subcommand's one-line summary is the doc comment of its variant in `main.rs`; the
// dataset itself is explained after the options, which a variant's doc comment does not replace.
#[command(
    after_help = "The dataset: a week of web access-log events from 2024-01-01T00:00:00Z in time \
order, with Zipf-distributed services, hosts, paths, countries and users, lognormal durations and \
sizes, a text message, and 7 needle events for search benchmarks. The same --seed and --events \
always give byte-identical output.\n\n\
Examples:\n  \
strata gen --events 10_000_000 --output access.parquet\n  \
strata gen -n 1000 | head",
    after_long_help = "The dataset (shared DATASET.md): web access-log events, uniform over the \
week from 2024-01-01T00:00:00Z and written in time order. Fields, in order: timestamp (ISO-8601 \
UTC with milliseconds; a typed Timestamp(ms, UTC) column in Parquet), service (svc-00..19, Zipf), \
region (9 cloud regions), host (host-0000..0999, Zipf), method, status, path \
(/api/v1..3/r0..9999, Zipf), country (C000..C199, Zipf), user_id (1,000,000 decimal ids, Zipf), \
duration_ms (lognormal, 3 decimals), bytes (lognormal), retries (Poisson), message \
(\"GET /api/v1/r0 -> 200 in 20.086ms user=12 w0 w3 w1 w17\"). Exactly 7 needle events have \
user_id needle-user and a message ending in 'needle7f3a kernel panic'.\n\n\
The same --seed and --events always give byte-identical output. The format is --format, else \
the output's extension (.ndjson/.jsonl/.json, .csv, .parquet/.pq), else NDJSON. A file is \
written to PATH.tmp and renamed to PATH once complete.\n\n\
Examples:\n  \
strata gen --events 10_000_000 --output access.parquet\n  \
STRATA_GEN_EVENTS=100_000 strata gen --format csv > access.csv\n  \
strata gen -n 1000 | head"
)]
pub struct GenArgs {
    /// Number of events to generate (underscores allowed: 10_000_000)
    #[arg(
        short = 'n',
        long,
        env = "STRATA_GEN_EVENTS",
        value_name = "N",
        default_value_t = DEFAULT_EVENT_COUNT,
        value_parser = parse_event_count,
    )]
    pub events: u64,

    /// Seed of the generator; the published dataset uses the default
    #[arg(long, env = "STRATA_GEN_SEED", value_name = "S", default_value_t = DEFAULT_SEED)]
    pub seed: u64,

    /// Output format [default: from the output's extension, else ndjson]
    #[arg(long, env = "STRATA_GEN_FORMAT", value_enum)]
    pub format: Option<OutputFormat>,

    /// File to write, or '-' for stdout (the default; Parquet needs a file)
    #[arg(
        short = 'o',
        long,
        env = "STRATA_GEN_OUTPUT",
        value_name = "PATH",
        value_parser = parse_output_target,
    )]
    pub output: Option<OutputTarget>,

    /// Hide the progress bar (it is also hidden when stderr is not a terminal)
    #[arg(
        short = 'q',
        long,
        env = "STRATA_GEN_QUIET",
        value_parser = clap::builder::BoolishValueParser::new(),
    )]
    pub quiet: bool,
}

/// The file formats `strata gen` writes.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// One JSON object per line, ISO-8601 timestamps
    Ndjson,
    /// Header row, then one comma-separated row per event
    Csv,
    /// Typed columns (timestamp as Timestamp(ms, UTC)), zstd
    Parquet,
}

impl OutputFormat {
    /// The format a file name's extension implies, if it implies one.
    pub fn from_extension(path: &Path) -> Option<Self> {
        let extension = path
            .extension()
            .and_then(OsStr::to_str)?
            .to_ascii_lowercase();
        match extension.as_str() {
            "ndjson" | "jsonl" | "json" => Some(Self::Ndjson),
            "csv" => Some(Self::Csv),
            "parquet" | "pq" => Some(Self::Parquet),
            _ => None,
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ndjson => "NDJSON",
            Self::Csv => "CSV",
            Self::Parquet => "Parquet",
        })
    }
}

/// Where the dataset goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputTarget {
    /// Standard output.
    Stdout,
    /// A file, replaced atomically once complete.
    File(PathBuf),
}

impl fmt::Display for OutputTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stdout => f.write_str("stdout"),
            Self::File(path) => write!(f, "{}", path.display()),
        }
    }
}

fn parse_output_target(value: &str) -> Result<OutputTarget, String> {
    match value {
        "" => Err("the output path is empty; give a file name, or '-' for stdout".to_owned()),
        "-" => Ok(OutputTarget::Stdout),
        path => Ok(OutputTarget::File(PathBuf::from(path))),
    }
}

fn parse_event_count(value: &str) -> Result<u64, String> {
    let digits: String = value.chars().filter(|&c| c != '_').collect();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "'{value}' is not a whole number of events; write it like 1000000 or 1_000_000"
        ));
    }
    digits.parse().map_err(|_| {
        format!(
            "'{value}' events is more than this tool can count (at most {})",
            u64::MAX
        )
    })
}

/// Runs `strata gen`.
pub fn run(args: GenArgs) -> anyhow::Result<()> {
    let target = args.output.unwrap_or(OutputTarget::Stdout);
    let format = args
        .format
        .or(match &target {
            OutputTarget::File(path) => OutputFormat::from_extension(path),
            OutputTarget::Stdout => None,
        })
        .unwrap_or(OutputFormat::Ndjson);
    if format == OutputFormat::Parquet && target == OutputTarget::Stdout {
        bail!(
            "Parquet is written to a file, not to stdout: pass --output PATH.parquet \
             (or choose --format ndjson or csv to stream)"
        );
    }

    let progress = progress_bar(args.events, args.quiet)?;
    let mut generator = AccessLogGenerator::new(args.seed, args.events);
    let started = Instant::now();
    let outcome = match &target {
        OutputTarget::Stdout => {
            let stdout = BufWriter::with_capacity(OUTPUT_BUFFER_BYTES, io::stdout());
            match write_dataset(format, stdout, &mut generator, &progress) {
                Ok(_) => Ok(()),
                // The reader has all it wanted (`strata gen | head`): not a failure.
                Err(error) if error.is_broken_pipe() => {
                    progress.finish_and_clear();
                    tracing::debug!(
                        generated = args.events - generator.remaining(),
                        "stdout was closed by its reader; stopping"
                    );
                    return Ok(());
                }
                Err(error) => {
                    Err(anyhow::Error::from(error).context("writing the dataset to stdout"))
                }
            }
        }
        OutputTarget::File(path) => write_file_atomically(path, format, &mut generator, &progress),
    };
    // Cleared in every case: the summary or the error replaces the bar, which would otherwise
    // share its line.
    progress.finish_and_clear();
    outcome?;

    let elapsed = started.elapsed().as_secs_f64();
    tracing::info!(
        events = args.events,
        seed = args.seed,
        %format,
        output = %target,
        seconds = %format_args!("{elapsed:.2}"),
        events_per_second = (args.events as f64 / elapsed.max(f64::MIN_POSITIVE)).round() as u64,
        "generated the access-log dataset"
    );
    Ok(())
}

/// Writes the dataset to `PATH.tmp`, syncs it, then renames it to `path`; on failure the
/// temporary file is removed and `path` is untouched.
fn write_file_atomically(
    path: &Path,
    format: OutputFormat,
    generator: &mut AccessLogGenerator,
    progress: &ProgressBar,
) -> anyhow::Result<()> {
    let temporary = temporary_path(path);
    let file = File::create(&temporary).with_context(|| {
        format!(
            "could not create {}: check that the directory exists and is writable",
            temporary.display()
        )
    })?;
    let sink = BufWriter::with_capacity(OUTPUT_BUFFER_BYTES, file);
    let written = write_dataset(format, sink, generator, progress)
        .map_err(anyhow::Error::from)
        .and_then(|sink| sink.into_inner().map_err(|error| error.into_error().into()))
        .and_then(|file| file.sync_all().map_err(anyhow::Error::from));
    if let Err(error) = written {
        // The write error is what the user needs; a failed cleanup only leaves a `.tmp` behind.
        let _ = fs::remove_file(&temporary);
        return Err(error.context(format!("writing the dataset to {}", temporary.display())));
    }
    fs::rename(&temporary, path).with_context(|| {
        format!(
            "could not move {} to {}",
            temporary.display(),
            path.display()
        )
    })
}

/// `PATH.tmp`, next to `path` so that the final rename stays on one file system.
fn temporary_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

fn write_dataset<S: Write + Send>(
    format: OutputFormat,
    sink: S,
    generator: &mut AccessLogGenerator,
    progress: &ProgressBar,
) -> Result<S, DatasetWriteError> {
    match format {
        OutputFormat::Ndjson => drive(NdjsonWriter::new(sink), generator, progress),
        OutputFormat::Csv => drive(CsvWriter::new(sink), generator, progress),
        OutputFormat::Parquet => drive(ParquetWriter::new(sink)?, generator, progress),
    }
}

fn drive<W: EventWriter>(
    mut writer: W,
    generator: &mut AccessLogGenerator,
    progress: &ProgressBar,
) -> Result<W::Sink, DatasetWriteError> {
    write_events(generator, &mut writer, |events| progress.inc(events))?;
    writer.finish()
}

/// A progress bar on stderr, hidden with `--quiet` and (by indicatif) when stderr is not a
/// terminal, so pipes and logs stay clean.
fn progress_bar(events: u64, quiet: bool) -> anyhow::Result<ProgressBar> {
    if quiet {
        return Ok(ProgressBar::hidden());
    }
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} events \
         ({events_per_second} events/s, ETA {eta})",
    )
    .context("building the progress bar style")?
    // indicatif's own `{per_sec}` prints four decimals; whole events read better.
    .with_key(
        "events_per_second",
        |state: &ProgressState, out: &mut dyn fmt::Write| {
            let _ = write!(out, "{}", HumanCount(state.per_sec() as u64));
        },
    );
    Ok(ProgressBar::with_draw_target(Some(events), ProgressDrawTarget::stderr()).with_style(style))
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser, Subcommand};

    use super::*;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(Subcommand, Debug)]
    enum Command {
        /// A summary written by the binary, as `main.rs` does.
        Gen(GenArgs),
    }

    fn parse(arguments: &[&str]) -> Result<GenArgs, clap::Error> {
        let all = ["strata", "gen"].iter().chain(arguments);
        Cli::try_parse_from(all).map(|cli| match cli.command {
            Command::Gen(args) => args,
        })
    }

    fn args(events: u64, format: Option<OutputFormat>, output: OutputTarget) -> GenArgs {
        GenArgs {
            events,
            seed: 3,
            format,
            output: Some(output),
            quiet: true,
        }
    }

    fn expected_bytes<W: EventWriter<Sink = Vec<u8>>>(writer: W, events: u64) -> Vec<u8> {
        let mut writer = writer;
        let mut generator = AccessLogGenerator::new(3, events);
        write_events(&mut generator, &mut writer, |_| {}).expect("in memory");
        writer.finish().expect("in memory")
    }

    #[test]
    fn command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_are_a_million_events_seed_42_to_stdout() {
        let args = parse(&[]).expect("no flags are required");
        assert_eq!(args.events, 1_000_000);
        assert_eq!(args.seed, 42);
        assert_eq!(args.format, None);
        assert_eq!(args.output, None);
        assert!(!args.quiet);
    }

    #[test]
    fn flags_parse_into_typed_values() {
        let args = parse(&[
            "-n", "10_000", "--seed", "7", "--format", "csv", "-o", "-", "-q",
        ])
        .expect("valid flags");
        assert_eq!(args.events, 10_000);
        assert_eq!(args.seed, 7);
        assert_eq!(args.format, Some(OutputFormat::Csv));
        assert_eq!(args.output, Some(OutputTarget::Stdout));
        assert!(args.quiet);
        let args = parse(&["--output", "out/a.parquet"]).expect("valid flags");
        assert_eq!(
            args.output,
            Some(OutputTarget::File("out/a.parquet".into()))
        );
    }

    #[test]
    fn bad_values_are_rejected_with_a_hint() {
        let error = parse(&["--events", "1e6"]).expect_err("not a whole number");
        assert!(error.to_string().contains("1_000_000"), "{error}");
        assert!(parse(&["--events", "-5"]).is_err());
        assert!(parse(&["--format", "xml"]).is_err());
        assert!(parse(&["--output", ""]).is_err());
    }

    #[test]
    fn help_explains_the_dataset_and_the_environment() {
        let mut command = Cli::command();
        let Some(subcommand) = command.find_subcommand_mut("gen") else {
            panic!("gen is a subcommand");
        };
        let short = subcommand.render_help().to_string();
        let long = subcommand.render_long_help().to_string();
        for help in [&short, &long] {
            for expected in [
                "access-log",
                "needle",
                "--seed",
                "STRATA_GEN_EVENTS",
                "1000000",
            ] {
                assert!(help.contains(expected), "help lacks {expected}:\n{help}");
            }
        }
        assert!(long.contains("Timestamp(ms, UTC)"), "{long}");
    }

    #[test]
    fn format_follows_the_extension() {
        let cases = [
            ("a.parquet", Some(OutputFormat::Parquet)),
            ("a.PQ", Some(OutputFormat::Parquet)),
            ("dir/a.csv", Some(OutputFormat::Csv)),
            ("a.jsonl", Some(OutputFormat::Ndjson)),
            ("a.ndjson", Some(OutputFormat::Ndjson)),
            ("a.txt", None),
            ("a", None),
        ];
        for (path, expected) in cases {
            assert_eq!(
                OutputFormat::from_extension(Path::new(path)),
                expected,
                "{path}"
            );
        }
    }

    #[test]
    fn file_output_is_renamed_into_place_with_the_writer_bytes() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let path = directory.path().join("access.csv");
        run(args(1_000, None, OutputTarget::File(path.clone()))).expect("generation succeeds");
        let written = fs::read(&path).expect("the output exists");
        assert_eq!(written, expected_bytes(CsvWriter::new(Vec::new()), 1_000));
        assert!(!temporary_path(&path).exists());
    }

    #[test]
    fn explicit_format_overrides_the_extension() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let path = directory.path().join("access.csv");
        run(args(
            500,
            Some(OutputFormat::Ndjson),
            OutputTarget::File(path.clone()),
        ))
        .expect("generation succeeds");
        let written = fs::read(&path).expect("the output exists");
        assert_eq!(written, expected_bytes(NdjsonWriter::new(Vec::new()), 500));
    }

    #[test]
    fn parquet_file_output_is_a_parquet_file() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let path = directory.path().join("access.parquet");
        run(args(100, None, OutputTarget::File(path.clone()))).expect("generation succeeds");
        let written = fs::read(&path).expect("the output exists");
        assert!(written.starts_with(b"PAR1") && written.ends_with(b"PAR1"));
    }

    #[test]
    fn parquet_to_stdout_is_refused_with_a_way_out() {
        let error = run(args(10, Some(OutputFormat::Parquet), OutputTarget::Stdout))
            .expect_err("Parquet needs a file");
        assert!(error.to_string().contains("--output"), "{error}");
    }

    #[test]
    fn missing_directory_is_reported_and_leaves_nothing() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let path = directory.path().join("missing").join("access.ndjson");
        let error = run(args(10, None, OutputTarget::File(path.clone())))
            .expect_err("the directory does not exist");
        assert!(
            format!("{error:#}").contains("directory exists"),
            "{error:#}"
        );
        assert!(!path.exists());
    }
}
