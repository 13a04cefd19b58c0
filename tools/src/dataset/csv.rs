//! CSV: a header row with the column names, then one row per event, in the dataset's column
//! order.
//!
//! ```text
//! timestamp,service,region,host,method,status,path,country,user_id,duration_ms,bytes,retries,message
//! 2024-01-01T00:00:00.123Z,svc-00,us-east-1,host-0042,GET,200,/api/v1/r0,C000,12,20.086,2981,0,GET /api/v1/r0 -> 200 in 20.086ms user=12 w0 w3 w1 w17
//! ```
//!
//! Values are spelled as in NDJSON (ISO-8601 timestamps with milliseconds, durations with three
//! decimals). A field is quoted per RFC 4180 only when it contains a comma, a double quote or a
//! line break, which the generated values never do; a non-finite duration is an empty field.
//! Rows end with `\n` rather than RFC 4180's `\r\n`, as every CSV reader in the benchmarks
//! accepts it and the files stay comparable in size to NDJSON.

use std::io::Write;

use super::event::{AccessEvent, FIELD_NAMES};
use super::text::{push_csv_field, push_fixed3, push_i64, push_iso8601_millis};
use super::writer::{DatasetWriteError, EventWriter, StagedText};

/// Writes access events as CSV with a header row.
#[derive(Debug)]
pub struct CsvWriter<W: Write> {
    out: StagedText<W>,
}

impl<W: Write> CsvWriter<W> {
    /// A writer appending to `sink`; the header row is part of the output even with no events.
    pub fn new(sink: W) -> Self {
        let mut out = StagedText::new(sink);
        out.buffer().push_str(&FIELD_NAMES.join(","));
        out.buffer().push('\n');
        Self { out }
    }
}

impl<W: Write> EventWriter for CsvWriter<W> {
    type Sink = W;

    fn write_event(&mut self, event: &AccessEvent) -> Result<(), DatasetWriteError> {
        let out = self.out.buffer();
        push_iso8601_millis(out, event.timestamp_ms);
        out.push(',');
        push_csv_field(out, &event.service);
        out.push(',');
        push_csv_field(out, &event.region);
        out.push(',');
        push_csv_field(out, &event.host);
        out.push(',');
        push_csv_field(out, &event.method);
        out.push(',');
        push_i64(out, event.status);
        out.push(',');
        push_csv_field(out, &event.path);
        out.push(',');
        push_csv_field(out, &event.country);
        out.push(',');
        push_csv_field(out, &event.user_id);
        out.push(',');
        if event.duration_ms.is_finite() {
            push_fixed3(out, event.duration_ms);
        }
        out.push(',');
        push_i64(out, event.bytes);
        out.push(',');
        push_i64(out, event.retries);
        out.push(',');
        push_csv_field(out, &event.message);
        out.push('\n');
        self.out.row_done()?;
        Ok(())
    }

    fn finish(self) -> Result<W, DatasetWriteError> {
        Ok(self.out.finish()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{AccessLogGenerator, write_events};

    fn csv(seed: u64, events: u64) -> String {
        let mut writer = CsvWriter::new(Vec::new());
        let mut generator = AccessLogGenerator::new(seed, events);
        write_events(&mut generator, &mut writer, |_| {}).expect("in memory");
        String::from_utf8(writer.finish().expect("in memory")).expect("CSV is UTF-8")
    }

    #[test]
    fn same_seed_gives_identical_bytes_and_another_seed_does_not() {
        let first = csv(11, 20_000);
        assert_eq!(first, csv(11, 20_000));
        assert_ne!(first, csv(12, 20_000));
    }

    #[test]
    fn header_then_one_row_per_event_with_every_field() {
        let text = csv(9, 1_000);
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(FIELD_NAMES.join(",").as_str()));
        let rows: Vec<&str> = lines.collect();
        assert_eq!(rows.len(), 1_000);
        for (row, event) in rows.iter().zip(AccessLogGenerator::new(9, 1_000)) {
            let mut timestamp = String::new();
            push_iso8601_millis(&mut timestamp, event.timestamp_ms);
            let expected = [
                timestamp,
                event.service.clone(),
                event.region.clone(),
                event.host.clone(),
                event.method.clone(),
                event.status.to_string(),
                event.path.clone(),
                event.country.clone(),
                event.user_id.clone(),
                format!("{:.3}", event.duration_ms),
                event.bytes.to_string(),
                event.retries.to_string(),
                event.message.clone(),
            ];
            let fields: Vec<&str> = row.split(',').collect();
            assert_eq!(fields, expected, "{row}");
        }
    }

    #[test]
    fn empty_dataset_is_just_the_header() {
        assert_eq!(csv(1, 0), format!("{}\n", FIELD_NAMES.join(",")));
    }

    #[test]
    fn fields_with_separators_are_quoted() {
        let event = AccessEvent {
            message: "a, \"b\"".to_owned(),
            ..AccessEvent::default()
        };
        let mut writer = CsvWriter::new(Vec::new());
        writer.write_event(&event).expect("in memory");
        let text = String::from_utf8(writer.finish().expect("in memory")).expect("UTF-8");
        assert!(text.ends_with(",0.000,0,0,\"a, \"\"b\"\"\"\n"), "{text}");
    }
}
