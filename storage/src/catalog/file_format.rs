//! The bytes of one catalog file, and every way they can be wrong.
//!
//! A catalog file holds one datasource. It is a header line, then a JSON body:
//!
//! ```text
//! strata-catalog 1 bytes=1234 crc32=89abcdef
//! {"spec":{...},"segments":[{"id":{...},"rows":10,"bytes":2048}],"offsets":{...}}
//! ```
//!
//! - `strata-catalog` says what the file is;
//! - `1` is the format version; a build refuses versions it does not know
//!   instead of guessing;
//! - `bytes=` is the length of the body (everything after the first `\n`),
//!   so a truncated file is recognised as truncated;
//! - `crc32=` is the CRC-32 (IEEE) of the body, eight lowercase hex digits,
//!   so a flipped bit is caught before the JSON is trusted.
//!
//! The header is compared byte for byte against the one its parsed fields
//! would produce: there is one spelling of each header, so damage to the
//! header is detected as surely as damage to the body.
//!
//! The body is a [`DataSourceState`] in JSON: `spec` (the datasource spec),
//! `segments` (the visible segments, each `{"id": {"dataSource", "interval":
//! {"start", "end"}, "version", "partition"}, "rows", "bytes"}`) and `offsets`
//! (an object of opaque ingest offsets). After decoding, the body is checked
//! against its file name and against the rules of a visible segment set.
//!
//! Every failure is a [`FileProblem`]; the caller attaches the file's path.

use std::fmt;

use super::DataSourceState;
use super::publish::check_visible_set;
use crate::spec::{DataSourceName, InvalidDataSourceName};

/// The first word of every catalog file.
const MAGIC: &str = "strata-catalog";

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// What is wrong with a catalog file's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileProblem {
    /// The file has zero bytes.
    Empty,
    /// No `\n` ends the header line.
    NoHeaderLine,
    /// The first line does not start with `strata-catalog `.
    NotACatalogFile,
    /// A well-formed header announces a format version this build cannot read.
    UnsupportedVersion { found: u32 },
    /// The header line is not exactly what its fields would print.
    MalformedHeader { header: String },
    /// The body length differs from the one in the header.
    LengthMismatch { expected: u64, found: u64 },
    /// The body's CRC-32 differs from the one in the header.
    ChecksumMismatch { stored: u32, computed: u32 },
    /// The body is not the JSON of a datasource.
    InvalidBody { reason: String },
    /// The file name is not a valid datasource name.
    InvalidFileName(InvalidDataSourceName),
    /// The body holds another datasource than its file name says.
    WrongDatasource { file_name: String, in_body: String },
    /// The segment list breaks the rules of a visible set.
    InconsistentSegments { reason: String },
}

impl fmt::Display for FileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileProblem::Empty => f.write_str("it is empty (0 bytes)"),
            FileProblem::NoHeaderLine => {
                f.write_str("it has no complete header line; it is truncated or not a catalog file")
            }
            FileProblem::NotACatalogFile => {
                write!(f, "its first line does not start with `{MAGIC} `")
            }
            FileProblem::UnsupportedVersion { found } => write!(
                f,
                "it is in catalog format version {found}, but this build of Strata reads only \
                 version {FORMAT_VERSION}; run the Strata release that wrote it"
            ),
            FileProblem::MalformedHeader { header } => write!(
                f,
                "its header line `{header}` is malformed (expected `{MAGIC} {FORMAT_VERSION} \
                 bytes=<length> crc32=<8 lowercase hex digits>`)"
            ),
            FileProblem::LengthMismatch { expected, found } if found < expected => write!(
                f,
                "its body is {found} bytes but its header says {expected}: the file is truncated"
            ),
            FileProblem::LengthMismatch { expected, found } => write!(
                f,
                "its body is {found} bytes but its header says {expected}: the file has extra \
                 bytes or a damaged header"
            ),
            FileProblem::ChecksumMismatch { stored, computed } => write!(
                f,
                "its body has CRC-32 {computed:08x} but its header says {stored:08x}: the file \
                 is corrupt"
            ),
            FileProblem::InvalidBody { reason } => {
                write!(f, "its body is not a valid datasource: {reason}")
            }
            FileProblem::InvalidFileName(invalid) => {
                write!(f, "its file name does not name a datasource: {invalid}")
            }
            FileProblem::WrongDatasource { file_name, in_body } => write!(
                f,
                "it holds datasource `{in_body}` but its file name says `{file_name}`"
            ),
            FileProblem::InconsistentSegments { reason } => {
                write!(f, "its segment list is inconsistent: {reason}")
            }
        }
    }
}

/// The header line (without its `\n`) for `body`.
fn header_for(body: &[u8]) -> String {
    format!(
        "{MAGIC} {FORMAT_VERSION} bytes={} crc32={:08x}",
        body.len(),
        crc32fast::hash(body)
    )
}

/// The file contents for `state`.
pub fn encode(state: &DataSourceState) -> Result<Vec<u8>, serde_json::Error> {
    let body = serde_json::to_vec(state)?;
    let mut bytes = header_for(&body).into_bytes();
    bytes.push(b'\n');
    bytes.extend_from_slice(&body);
    Ok(bytes)
}

/// The datasource in `bytes`, read from the file for datasource `file_name`.
pub fn decode(file_name: &str, bytes: &[u8]) -> Result<DataSourceState, FileProblem> {
    let name = DataSourceName::new(file_name).map_err(FileProblem::InvalidFileName)?;
    if bytes.is_empty() {
        return Err(FileProblem::Empty);
    }
    let newline = bytes
        .iter()
        .position(|&b| b == b'\n')
        .ok_or(FileProblem::NoHeaderLine)?;
    let (header, newline_and_body) = bytes.split_at(newline);
    let body = newline_and_body.get(1..).unwrap_or_default();
    check_header(header, body)?;

    let state: DataSourceState =
        serde_json::from_slice(body).map_err(|e| FileProblem::InvalidBody {
            reason: e.to_string(),
        })?;
    let in_body = state.spec.data_source_name();
    if *in_body != name {
        return Err(FileProblem::WrongDatasource {
            file_name: file_name.to_owned(),
            in_body: in_body.to_string(),
        });
    }
    check_visible_set(&name, &state.segments)
        .map_err(|reason| FileProblem::InconsistentSegments { reason })?;
    Ok(state)
}

fn check_header(header: &[u8], body: &[u8]) -> Result<(), FileProblem> {
    let text = String::from_utf8_lossy(header);
    let malformed = || FileProblem::MalformedHeader {
        header: text.escape_debug().to_string(),
    };
    let Some(rest) = header.strip_prefix(format!("{MAGIC} ").as_bytes()) else {
        return Err(FileProblem::NotACatalogFile);
    };
    let version_text = rest.split(|&b| b == b' ').next().unwrap_or_default();
    let version = std::str::from_utf8(version_text)
        .ok()
        .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|digits| digits.parse::<u32>().ok())
        .ok_or_else(malformed)?;
    if version != FORMAT_VERSION {
        return Err(FileProblem::UnsupportedVersion { found: version });
    }

    let fields = parse_fields(&text).ok_or_else(malformed)?;
    let (expected_len, stored_crc) = fields;
    if format!("{MAGIC} {FORMAT_VERSION} bytes={expected_len} crc32={stored_crc:08x}") != text {
        return Err(malformed());
    }
    let found = body.len() as u64;
    if found != expected_len {
        return Err(FileProblem::LengthMismatch {
            expected: expected_len,
            found,
        });
    }
    let computed = crc32fast::hash(body);
    if computed != stored_crc {
        return Err(FileProblem::ChecksumMismatch {
            stored: stored_crc,
            computed,
        });
    }
    Ok(())
}

/// The `bytes=` and `crc32=` values of a header, if both parse.
fn parse_fields(header: &str) -> Option<(u64, u32)> {
    let mut words = header.split(' ').skip(2);
    let length = words.next()?.strip_prefix("bytes=")?.parse().ok()?;
    let crc = u32::from_str_radix(words.next()?.strip_prefix("crc32=")?, 16).ok()?;
    Some((length, crc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::test_support::{segment, spec};
    use serde_json::json;
    use std::collections::BTreeMap;

    fn sample() -> DataSourceState {
        DataSourceState {
            spec: spec("weblogs"),
            segments: vec![segment("weblogs", 0, 3_600_000, 1, 0)],
            offsets: BTreeMap::from([("kafka/0".to_owned(), json!(42))]),
        }
    }

    #[test]
    fn round_trips() {
        let bytes = encode(&sample()).unwrap();
        let header_end = bytes.iter().position(|&b| b == b'\n').unwrap();
        let header = std::str::from_utf8(&bytes[..header_end]).unwrap();
        assert!(header.starts_with("strata-catalog 1 bytes="), "{header}");
        assert_eq!(decode("weblogs", &bytes), Ok(sample()));
    }

    #[test]
    fn every_truncation_is_detected() {
        let bytes = encode(&sample()).unwrap();
        for len in 0..bytes.len() {
            let problem = decode("weblogs", &bytes[..len]).unwrap_err();
            let expected = match len {
                0 => matches!(problem, FileProblem::Empty),
                _ => matches!(
                    problem,
                    FileProblem::NoHeaderLine
                        | FileProblem::LengthMismatch { .. }
                        | FileProblem::NotACatalogFile
                ),
            };
            assert!(expected, "truncated to {len}: {problem}");
        }
        let mut longer = bytes.clone();
        longer.push(b' ');
        let problem = decode("weblogs", &longer).unwrap_err();
        assert!(problem.to_string().contains("extra bytes"), "{problem}");
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let bytes = encode(&sample()).unwrap();
        for position in 0..bytes.len() {
            for bit in 0..8 {
                let mut damaged = bytes.clone();
                damaged[position] ^= 1 << bit;
                assert!(
                    decode("weblogs", &damaged).is_err(),
                    "flip of bit {bit} at byte {position} went unnoticed"
                );
            }
        }
    }

    #[test]
    fn other_versions_are_refused_by_number() {
        let bytes = encode(&sample()).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        let v2 = text.replacen("strata-catalog 1 ", "strata-catalog 2 ", 1);
        let problem = decode("weblogs", v2.as_bytes()).unwrap_err();
        assert_eq!(problem, FileProblem::UnsupportedVersion { found: 2 });
        assert!(problem.to_string().contains("reads only version 1"));
    }

    #[test]
    fn the_body_must_match_the_file_name() {
        let bytes = encode(&sample()).unwrap();
        let problem = decode("access", &bytes).unwrap_err();
        assert_eq!(
            problem.to_string(),
            "it holds datasource `weblogs` but its file name says `access`"
        );
    }

    #[test]
    fn a_file_name_that_is_not_a_datasource_name_is_refused() {
        let bytes = encode(&sample()).unwrap();
        for file_name in ["..", ".", ".hidden", "web logs", "druid"] {
            let problem = decode(file_name, &bytes).unwrap_err();
            assert!(
                matches!(problem, FileProblem::InvalidFileName(_)),
                "{file_name:?}: {problem}"
            );
        }
    }

    #[test]
    fn a_checksummed_but_inconsistent_body_is_refused() {
        let mut state = sample();
        state.segments.push(segment("weblogs", 0, 7_200_000, 2, 0));
        let bytes = encode(&state).unwrap();
        let problem = decode("weblogs", &bytes).unwrap_err();
        assert!(matches!(problem, FileProblem::InconsistentSegments { .. }));
    }
}
