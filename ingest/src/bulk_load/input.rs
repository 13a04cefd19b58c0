//! Inputs: the files a load reads, found from the paths a user names, and
//! what each one holds.
//!
//! A path is a file, a directory (every file under it, recursively, hidden
//! ones left out) or a glob (`logs/2024-*/*.ndjson.gz`). Files are taken in
//! path order so that a load reads the same files in the same order every
//! time.
//!
//! What a file holds is told by its bytes first, its name second:
//!
//! | first bytes | means |
//! | --- | --- |
//! | `1f 8b` | gzip around the real content |
//! | `28 b5 2f fd` | zstd around the real content |
//! | `PAR1` | Parquet |
//! | `ARROW1` | an Arrow IPC file (Feather v2) |
//! | `ff ff ff ff` | an Arrow IPC stream |
//!
//! Inside a compression, or without a magic number, the name decides, with
//! `.gz`, `.gzip`, `.zst` and `.zstd` taken off first: `.ndjson`, `.jsonl`
//! and `.json` are NDJSON, `.csv` is CSV, `.parquet` Parquet, `.arrow`,
//! `.feather` and `.ipc` an Arrow file, `.arrows` an Arrow stream. A name
//! that says nothing leaves the content: text starting with `{` is NDJSON.
//! `--format` overrides all of it. Parquet and Arrow files need to seek, so
//! they cannot be read through gzip or zstd; they compress their own pages.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The format of an input file's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// One JSON object per line.
    Ndjson,
    /// Comma-separated values with a header row naming the fields.
    Csv,
    Parquet,
    /// An Arrow IPC file (Feather v2).
    ArrowFile,
    /// An Arrow IPC stream.
    ArrowStream,
}

impl InputFormat {
    /// Whether the format must be read from a seekable file.
    fn needs_seek(self) -> bool {
        matches!(self, InputFormat::Parquet | InputFormat::ArrowFile)
    }
}

impl fmt::Display for InputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InputFormat::Ndjson => "ndjson",
            InputFormat::Csv => "csv",
            InputFormat::Parquet => "parquet",
            InputFormat::ArrowFile => "arrow",
            InputFormat::ArrowStream => "arrows",
        })
    }
}

impl FromStr for InputFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "ndjson" | "json" | "jsonl" => Ok(InputFormat::Ndjson),
            "csv" => Ok(InputFormat::Csv),
            "parquet" => Ok(InputFormat::Parquet),
            "arrow" | "feather" | "ipc" => Ok(InputFormat::ArrowFile),
            "arrows" | "arrow-stream" => Ok(InputFormat::ArrowStream),
            _ => Err(format!(
                "`{text}` is not an input format; use ndjson, csv, parquet, arrow (an Arrow IPC file) or arrows (an Arrow IPC stream)"
            )),
        }
    }
}

/// The compression around a file's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// One file to load and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    pub path: PathBuf,
    /// Its size on disk.
    pub bytes: u64,
    pub format: InputFormat,
    pub compression: Compression,
}

/// Why the inputs could not be found or told apart.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("no file matches `{pattern}`; check the path")]
    NothingMatches { pattern: String },
    #[error("`{pattern}` is not a valid glob pattern: {reason}")]
    BadPattern { pattern: String, reason: String },
    #[error("reading {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "cannot tell the format of {}; name it .ndjson, .csv, .parquet or .arrow, or pass --format",
        path.display()
    )]
    UnknownFormat { path: PathBuf },
    #[error(
        "{} is {format} inside {compression:?} compression; {format} files must be read from a seekable file, so decompress it first (its pages are compressed already)",
        path.display()
    )]
    CompressedSeekable {
        path: PathBuf,
        format: InputFormat,
        compression: Compression,
    },
    #[error("no input files: name at least one file, directory or glob")]
    NoInputs,
}

/// The files `paths` name, in order, each with its format (`format` when
/// given, else detected; see the [module docs](self)).
pub fn find_inputs(
    paths: &[String],
    format: Option<InputFormat>,
) -> Result<Vec<InputFile>, InputError> {
    let mut files = Vec::new();
    for pattern in paths {
        let before = files.len();
        if is_glob(pattern) {
            let entries = glob::glob(pattern).map_err(|error| InputError::BadPattern {
                pattern: pattern.clone(),
                reason: error.to_string(),
            })?;
            for entry in entries {
                let path = entry.map_err(|error| InputError::Io {
                    path: error.path().to_owned(),
                    source: io::Error::other(error.to_string()),
                })?;
                collect(&path, &mut files)?;
            }
        } else {
            collect(Path::new(pattern), &mut files)?;
        }
        if files.len() == before {
            return Err(InputError::NothingMatches {
                pattern: pattern.clone(),
            });
        }
    }
    if files.is_empty() {
        return Err(InputError::NoInputs);
    }
    files
        .into_iter()
        .map(|path| describe(path, format))
        .collect()
}

fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

/// Adds `path`, or every file under it when it is a directory.
fn collect(path: &Path, files: &mut Vec<PathBuf>) -> Result<(), InputError> {
    let io_error = |source| InputError::Io {
        path: path.to_owned(),
        source,
    };
    let metadata = std::fs::metadata(path).map_err(io_error)?;
    if !metadata.is_dir() {
        files.push(path.to_owned());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(io_error)?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()
        .map_err(io_error)?;
    entries.sort();
    for entry in entries {
        let hidden = entry
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with('.'));
        if !hidden {
            collect(&entry, files)?;
        }
    }
    Ok(())
}

fn describe(path: PathBuf, forced: Option<InputFormat>) -> Result<InputFile, InputError> {
    let io_error = |source| InputError::Io {
        path: path.clone(),
        source,
    };
    let bytes = std::fs::metadata(&path).map_err(io_error)?.len();
    let head = read_head(File::open(&path).map_err(io_error)?).map_err(io_error)?;
    let compression = compression_of(&head);
    let content = match compression {
        Compression::None => head,
        Compression::Gzip => read_head(flate2::read::MultiGzDecoder::new(
            File::open(&path).map_err(io_error)?,
        ))
        .map_err(io_error)?,
        Compression::Zstd => read_head(
            zstd::stream::read::Decoder::new(File::open(&path).map_err(io_error)?)
                .map_err(io_error)?,
        )
        .map_err(io_error)?,
    };
    let format = forced
        .or_else(|| format_by_magic(&content))
        .or_else(|| format_by_name(&path))
        .or_else(|| format_by_text(&content))
        .ok_or_else(|| InputError::UnknownFormat { path: path.clone() })?;
    if format.needs_seek() && compression != Compression::None {
        return Err(InputError::CompressedSeekable {
            path,
            format,
            compression,
        });
    }
    Ok(InputFile {
        path,
        bytes,
        format,
        compression,
    })
}

/// Up to the first 64 bytes of `reader`.
fn read_head(reader: impl Read) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(64);
    reader.take(64).read_to_end(&mut head)?;
    Ok(head)
}

fn compression_of(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

fn format_by_magic(content: &[u8]) -> Option<InputFormat> {
    if content.starts_with(b"PAR1") {
        Some(InputFormat::Parquet)
    } else if content.starts_with(b"ARROW1") {
        Some(InputFormat::ArrowFile)
    } else if content.starts_with(&[0xff, 0xff, 0xff, 0xff]) {
        Some(InputFormat::ArrowStream)
    } else {
        None
    }
}

fn format_by_name(path: &Path) -> Option<InputFormat> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    let name = [".gz", ".gzip", ".zst", ".zstd"]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
        .unwrap_or(&name);
    let extension = Path::new(name).extension()?.to_str()?;
    match extension {
        "ndjson" | "jsonl" | "json" => Some(InputFormat::Ndjson),
        "csv" => Some(InputFormat::Csv),
        "parquet" => Some(InputFormat::Parquet),
        "arrow" | "feather" | "ipc" => Some(InputFormat::ArrowFile),
        "arrows" => Some(InputFormat::ArrowStream),
        _ => None,
    }
}

fn format_by_text(content: &[u8]) -> Option<InputFormat> {
    let first = content.iter().find(|byte| !byte.is_ascii_whitespace())?;
    (*first == b'{').then_some(InputFormat::Ndjson)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn found(paths: &[&Path]) -> Vec<(String, InputFormat, Compression)> {
        let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        find_inputs(&paths, None)
            .unwrap()
            .into_iter()
            .map(|file| {
                let name = file
                    .path
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                (name, file.format, file.compression)
            })
            .collect()
    }

    #[test]
    fn compression_is_told_by_magic_bytes_not_by_the_name() {
        let dir = tempfile::tempdir().unwrap();
        let event = b"{\"timestamp\": 1}\n";
        write(dir.path(), "plain.ndjson", event);
        write(dir.path(), "disguised.ndjson", &gzip(event));
        write(
            dir.path(),
            "packed.zst",
            &zstd::encode_all(&event[..], 1).unwrap(),
        );
        write(dir.path(), "table.csv.gz", &gzip(b"timestamp,a\n1,x\n"));
        assert_eq!(
            found(&[dir.path()]),
            vec![
                (
                    "disguised.ndjson".into(),
                    InputFormat::Ndjson,
                    Compression::Gzip
                ),
                ("packed.zst".into(), InputFormat::Ndjson, Compression::Zstd),
                (
                    "plain.ndjson".into(),
                    InputFormat::Ndjson,
                    Compression::None
                ),
                ("table.csv.gz".into(), InputFormat::Csv, Compression::Gzip),
            ]
        );
    }

    #[test]
    fn parquet_and_arrow_are_told_by_magic_and_refused_inside_compression() {
        let dir = tempfile::tempdir().unwrap();
        let parquet = write(dir.path(), "export.bin", b"PAR1....PAR1");
        let stream = write(dir.path(), "batches", &[0xff, 0xff, 0xff, 0xff, 0, 0]);
        assert_eq!(
            found(&[&parquet, &stream]),
            vec![
                ("export.bin".into(), InputFormat::Parquet, Compression::None),
                (
                    "batches".into(),
                    InputFormat::ArrowStream,
                    Compression::None
                ),
            ]
        );
        let packed = write(dir.path(), "export.parquet.gz", &gzip(b"PAR1....PAR1"));
        let error = find_inputs(&[packed.display().to_string()], None).unwrap_err();
        assert!(
            matches!(error, InputError::CompressedSeekable { .. }),
            "{error}"
        );
        assert!(error.to_string().contains("decompress it first"), "{error}");
    }

    #[test]
    fn globs_directories_and_misses() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("day1")).unwrap();
        write(&dir.path().join("day1"), "a.ndjson", b"{}\n");
        write(&dir.path().join("day1"), ".hidden.ndjson", b"{}\n");
        write(dir.path(), "b.ndjson", b"{}\n");
        write(dir.path(), "notes.txt", b"hello\n");
        let pattern = format!("{}/*.ndjson", dir.path().display());
        let names: Vec<String> = find_inputs(&[pattern], None)
            .unwrap()
            .iter()
            .map(|file| {
                file.path
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(names, ["b.ndjson"]);

        let error = find_inputs(&[dir.path().display().to_string()], None).unwrap_err();
        assert!(error.to_string().contains("notes.txt"), "{error}");
        let forced =
            find_inputs(&[dir.path().display().to_string()], Some(InputFormat::Csv)).unwrap();
        assert_eq!(forced.len(), 3, "the hidden file is left out: {forced:?}");

        let missing = format!("{}/nothing-*.csv", dir.path().display());
        let error = find_inputs(&[missing], None).unwrap_err();
        assert!(
            matches!(error, InputError::NothingMatches { .. }),
            "{error}"
        );
    }
}
