//! Reading a table out as Arrow record batches.
//!
//! Arrow is Strata's columnar format at the edges (DESIGN.md): exporting a
//! segment to Parquet, handing rows to other engines, checking a segment
//! against an independent reader. One batch is produced per row block.
//!
//! | column kind | Arrow type |
//! |---|---|
//! | `__time` | `Timestamp(Millisecond, "UTC")` |
//! | `long` | `Int64` |
//! | `double` | `Float64` |
//! | `string` | `Utf8` |
//! | multi-value `string` | `List<Utf8>` |
//! | `text` | `Utf8` |
//! | `complex` | `Binary` |

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, Float64Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampMillisecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use roaring::RoaringBitmap;

use super::column::Column;
use super::reader::Table;
use super::schema::{ColumnKind, TIME_COLUMN};
use super::{ROWS_PER_BLOCK, SegmentError};

/// The Arrow schema of `table`'s batches.
pub fn arrow_schema(table: &Table) -> SchemaRef {
    let mut fields = vec![Field::new(
        TIME_COLUMN,
        DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        false,
    )];
    fields.extend(table.schema().columns().iter().map(|c| {
        let data_type = match &c.kind {
            ColumnKind::Long => DataType::Int64,
            ColumnKind::Double => DataType::Float64,
            ColumnKind::String { multi_value: false } | ColumnKind::Text => DataType::Utf8,
            ColumnKind::String { multi_value: true } => {
                DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
            }
            ColumnKind::Complex { .. } => DataType::Binary,
        };
        Field::new(&c.name, data_type, true)
    }));
    Arc::new(Schema::new(fields))
}

/// The table's rows as record batches, one per row block.
pub fn record_batches(
    table: &Table,
) -> Result<impl Iterator<Item = Result<RecordBatch, SegmentError>> + '_, SegmentError> {
    let schema = arrow_schema(table);
    let nulls = table
        .columns()
        .map(|(_, c)| c.nulls())
        .collect::<Result<Vec<_>, _>>()?;
    Ok((0..table.block_count()).map(move |b| block_batch(table, &schema, &nulls, b)))
}

fn block_batch(
    table: &Table,
    schema: &SchemaRef,
    nulls: &[RoaringBitmap],
    b: usize,
) -> Result<RecordBatch, SegmentError> {
    let first_row = (b * ROWS_PER_BLOCK) as u32;
    let mut times = Vec::new();
    table.time().decode_block(b, &mut times)?;
    let rows = times.len();
    let mut arrays: Vec<ArrayRef> = vec![Arc::new(
        TimestampMillisecondArray::from(times).with_timezone("UTC"),
    )];
    for ((_, column), nulls) in table.columns().zip(nulls) {
        let is_null = |i: usize| nulls.contains(first_row + i as u32);
        let array: ArrayRef = match column {
            Column::Long(c) => {
                let mut values = Vec::new();
                c.decode_block(b, &mut values)?;
                let mut builder = Int64Builder::with_capacity(rows);
                for (i, v) in values.into_iter().enumerate() {
                    builder.append_option((!is_null(i)).then_some(v));
                }
                Arc::new(builder.finish())
            }
            Column::Double(c) => {
                let mut values = Vec::new();
                c.decode_block(b, &mut values)?;
                let mut builder = Float64Builder::with_capacity(rows);
                for (i, v) in values.into_iter().enumerate() {
                    builder.append_option((!is_null(i)).then_some(v));
                }
                Arc::new(builder.finish())
            }
            Column::String(c) => {
                let dictionary = c.dictionary()?;
                if c.is_multi_value() {
                    let (mut lengths, mut ids) = (Vec::new(), Vec::new());
                    c.decode_block_multi(b, &mut lengths, &mut ids)?;
                    let mut builder = ListBuilder::new(StringBuilder::new());
                    let mut at = 0;
                    for &len in &lengths {
                        if len == 0 {
                            builder.append_null();
                            continue;
                        }
                        for &id in &ids[at..at + len as usize] {
                            builder.values().append_value(dictionary.value(id)?);
                        }
                        builder.append(true);
                        at += len as usize;
                    }
                    Arc::new(builder.finish())
                } else {
                    let mut codes = Vec::new();
                    c.decode_block_codes(b, &mut codes)?;
                    let mut builder = StringBuilder::with_capacity(rows, rows * 8);
                    for code in codes {
                        match code {
                            0 => builder.append_null(),
                            code => builder.append_value(dictionary.value(code - 1)?),
                        }
                    }
                    Arc::new(builder.finish())
                }
            }
            Column::Text(c) => {
                let block = c.decode_block(b)?;
                let mut builder = StringBuilder::with_capacity(rows, rows * 64);
                for i in 0..block.len() {
                    builder.append_option((!is_null(i)).then(|| block.get(i)));
                }
                Arc::new(builder.finish())
            }
            Column::Complex(c) => {
                let block = c.decode_block(b)?;
                let mut builder = BinaryBuilder::with_capacity(rows, rows * 16);
                for i in 0..block.len() {
                    builder.append_option(block.get(i).filter(|_| !is_null(i)));
                }
                Arc::new(builder.finish())
            }
        };
        arrays.push(array);
    }
    RecordBatch::try_new(schema.clone(), arrays).map_err(|e| SegmentError::Export {
        path: table.path().to_path_buf(),
        detail: e.to_string(),
    })
}
