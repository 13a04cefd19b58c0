//! Request bodies: undoing their `Content-Encoding`, then cutting them into
//! NDJSON lines.
//!
//! [`decode_body`] inflates `gzip` and `zstd` bodies (or passes an unencoded
//! one through) and stops at a byte limit: a small compressed body that would
//! inflate to gigabytes (a "zip bomb") is refused once the limit is reached,
//! having allocated no more than the limit. [`ndjson_lines`] then yields each
//! non-blank line with its 1-based line number, the number a client sees in
//! the ingest response.

use std::io::Read;

/// Why a request body could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error(
        "Content-Encoding `{encoding}` is not supported; send the body uncompressed, or compressed with `gzip` or `zstd`"
    )]
    UnknownEncoding { encoding: String },
    #[error("the body is larger than {limit} bytes once decoded; send fewer events per request")]
    TooLarge { limit: usize },
    #[error("the body is not valid {encoding} data ({source}); check its Content-Encoding")]
    Corrupt {
        encoding: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// The largest zstd window the decoder accepts, as log2 of bytes: zstd's own
/// default ceiling (128 MiB), lowered further to the body limit.
const MAX_ZSTD_WINDOW_LOG: u32 = 27;
const MIN_ZSTD_WINDOW_LOG: u32 = 10;

/// The body as sent, decoded by `content_encoding` (`None`, `identity`, `gzip`,
/// `x-gzip` or `zstd`, any case), at most `max_decoded` bytes long.
pub fn decode_body(
    body: &[u8],
    content_encoding: Option<&str>,
    max_decoded: usize,
) -> Result<Vec<u8>, BodyError> {
    let encoding = content_encoding.map(str::trim).unwrap_or("");
    if encoding.is_empty() || encoding.eq_ignore_ascii_case("identity") {
        if body.len() > max_decoded {
            return Err(BodyError::TooLarge { limit: max_decoded });
        }
        return Ok(body.to_vec());
    }
    if encoding.eq_ignore_ascii_case("gzip") || encoding.eq_ignore_ascii_case("x-gzip") {
        // Several gzip members in a row are one body (what `cat a.gz b.gz` makes).
        return read_bounded(
            flate2::read::MultiGzDecoder::new(body),
            "gzip",
            body.len(),
            max_decoded,
        );
    }
    if encoding.eq_ignore_ascii_case("zstd") {
        let corrupt = |source| BodyError::Corrupt {
            encoding: "zstd",
            source,
        };
        let mut decoder = zstd::stream::read::Decoder::with_buffer(body).map_err(corrupt)?;
        // A window larger than the whole allowed body is never needed, and
        // would let a tiny frame header claim a large allocation.
        let window_log = usize::BITS - max_decoded.saturating_sub(1).leading_zeros();
        decoder
            .window_log_max(window_log.clamp(MIN_ZSTD_WINDOW_LOG, MAX_ZSTD_WINDOW_LOG))
            .map_err(corrupt)?;
        return read_bounded(decoder, "zstd", body.len(), max_decoded);
    }
    Err(BodyError::UnknownEncoding {
        encoding: encoding.to_owned(),
    })
}

/// Reads `decoder` to its end, failing as soon as it yields more than `limit` bytes.
fn read_bounded(
    decoder: impl Read,
    encoding: &'static str,
    encoded_len: usize,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    let mut decoded = Vec::with_capacity(encoded_len.saturating_mul(4).min(limit));
    let limit_plus_one = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    decoder
        .take(limit_plus_one)
        .read_to_end(&mut decoded)
        .map_err(|source| BodyError::Corrupt { encoding, source })?;
    if decoded.len() > limit {
        return Err(BodyError::TooLarge { limit });
    }
    Ok(decoded)
}

/// The non-blank lines of an NDJSON body with their 1-based line numbers,
/// without their `\n` or `\r\n` endings.
pub fn ndjson_lines(body: &[u8]) -> NdjsonLines<'_> {
    NdjsonLines {
        rest: body,
        line_number: 0,
    }
}

/// The iterator of [`ndjson_lines`].
#[derive(Debug, Clone)]
pub struct NdjsonLines<'a> {
    rest: &'a [u8],
    line_number: usize,
}

impl<'a> Iterator for NdjsonLines<'a> {
    type Item = (usize, &'a [u8]);

    fn next(&mut self) -> Option<(usize, &'a [u8])> {
        while !self.rest.is_empty() {
            let (line, rest) = match self.rest.iter().position(|&byte| byte == b'\n') {
                Some(end) => (&self.rest[..end], &self.rest[end + 1..]),
                None => (self.rest, &self.rest[self.rest.len()..]),
            };
            self.rest = rest;
            self.line_number += 1;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if !line.iter().all(u8::is_ascii_whitespace) {
                return Some((self.line_number, line));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    fn zstd(data: &[u8]) -> Vec<u8> {
        zstd::bulk::compress(data, 3).unwrap()
    }

    const EVENTS: &[u8] = b"{\"a\":1}\n{\"a\":2}\n";

    #[test]
    fn identity_gzip_and_zstd_bodies_decode() {
        assert_eq!(decode_body(EVENTS, None, 1024).unwrap(), EVENTS);
        assert_eq!(decode_body(EVENTS, Some("identity"), 1024).unwrap(), EVENTS);
        assert_eq!(
            decode_body(&gzip(EVENTS), Some("gzip"), 1024).unwrap(),
            EVENTS
        );
        assert_eq!(
            decode_body(&gzip(EVENTS), Some(" GZIP "), 1024).unwrap(),
            EVENTS
        );
        assert_eq!(
            decode_body(&gzip(EVENTS), Some("x-gzip"), 1024).unwrap(),
            EVENTS
        );
        assert_eq!(
            decode_body(&zstd(EVENTS), Some("zstd"), 1024).unwrap(),
            EVENTS
        );
    }

    #[test]
    fn concatenated_members_and_frames_are_one_body() {
        let mut twice = gzip(EVENTS);
        twice.extend(gzip(EVENTS));
        assert_eq!(
            decode_body(&twice, Some("gzip"), 1024).unwrap(),
            EVENTS.repeat(2)
        );
        let mut twice = zstd(EVENTS);
        twice.extend(zstd(EVENTS));
        assert_eq!(
            decode_body(&twice, Some("zstd"), 1024).unwrap(),
            EVENTS.repeat(2)
        );
    }

    #[test]
    fn a_body_of_exactly_the_limit_passes_and_one_byte_more_does_not() {
        let limit = EVENTS.len();
        assert!(decode_body(&zstd(EVENTS), Some("zstd"), limit).is_ok());
        assert!(matches!(
            decode_body(&zstd(EVENTS), Some("zstd"), limit - 1),
            Err(BodyError::TooLarge { limit: l }) if l == limit - 1
        ));
        assert!(matches!(
            decode_body(EVENTS, None, limit - 1),
            Err(BodyError::TooLarge { .. })
        ));
    }

    #[test]
    fn unknown_encodings_are_named() {
        let error = decode_body(EVENTS, Some("br"), 1024).unwrap_err();
        assert_eq!(
            error.to_string(),
            "Content-Encoding `br` is not supported; send the body uncompressed, or compressed with `gzip` or `zstd`"
        );
    }

    #[test]
    fn corrupt_bodies_are_errors() {
        let error = decode_body(b"not gzip at all", Some("gzip"), 1024).unwrap_err();
        assert!(
            matches!(
                error,
                BodyError::Corrupt {
                    encoding: "gzip",
                    ..
                }
            ),
            "{error}"
        );
        let error = decode_body(b"not zstd at all", Some("zstd"), 1024).unwrap_err();
        assert!(
            matches!(
                error,
                BodyError::Corrupt {
                    encoding: "zstd",
                    ..
                }
            ),
            "{error}"
        );
        let mut truncated = gzip(EVENTS);
        truncated.truncate(truncated.len() - 4);
        assert!(decode_body(&truncated, Some("gzip"), 1024).is_err());
    }

    /// 1 GiB of zeros: 1024 compressed copies of 1 MiB, a few KiB in all.
    fn bomb(compress: fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
        compress(&vec![0; 1 << 20]).repeat(1024)
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_limit() {
        let bomb = bomb(gzip);
        // Deflate cannot beat about 1:1000, so 1 GiB takes about 1 MiB.
        assert!(
            bomb.len() < 8 << 20,
            "the bomb is small: {} bytes",
            bomb.len()
        );
        let limit = 8 << 20;
        assert!(matches!(
            decode_body(&bomb, Some("gzip"), limit),
            Err(BodyError::TooLarge { limit: l }) if l == limit
        ));
    }

    #[test]
    fn a_zstd_bomb_stops_at_the_limit() {
        let bomb = bomb(zstd);
        assert!(
            bomb.len() < 1 << 20,
            "the bomb is small: {} bytes",
            bomb.len()
        );
        let limit = 8 << 20;
        assert!(matches!(
            decode_body(&bomb, Some("zstd"), limit),
            Err(BodyError::TooLarge { limit: l }) if l == limit
        ));
    }

    #[test]
    fn a_zstd_frame_claiming_a_window_beyond_the_limit_is_refused() {
        let mut encoder = zstd::bulk::Compressor::new(19).unwrap();
        encoder
            .set_parameter(zstd::stream::raw::CParameter::WindowLog(24))
            .unwrap();
        // Without a content size in the header, the frame keeps its 16 MiB window.
        encoder
            .set_parameter(zstd::stream::raw::CParameter::ContentSizeFlag(false))
            .unwrap();
        let frame = encoder.compress(&vec![7; 4 << 20]).unwrap();
        assert!(matches!(
            decode_body(&frame, Some("zstd"), 1 << 20),
            Err(BodyError::Corrupt { .. } | BodyError::TooLarge { .. })
        ));
        assert_eq!(
            decode_body(&frame, Some("zstd"), 16 << 20).unwrap().len(),
            4 << 20
        );
    }

    #[test]
    fn lines_are_numbered_from_one_and_blank_lines_skipped() {
        let body = b"{\"a\":1}\r\n\n  \r\n{\"a\":2}\n{\"a\":3}";
        let lines: Vec<(usize, &[u8])> = ndjson_lines(body).collect();
        assert_eq!(
            lines,
            vec![
                (1, &b"{\"a\":1}"[..]),
                (4, &b"{\"a\":2}"[..]),
                (5, &b"{\"a\":3}"[..]),
            ]
        );
        assert_eq!(ndjson_lines(b"").count(), 0);
        assert_eq!(ndjson_lines(b"\n\n").count(), 0);
        assert_eq!(
            ndjson_lines(b"x\n").collect::<Vec<_>>(),
            vec![(1, &b"x"[..])]
        );
    }
}
