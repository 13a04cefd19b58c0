//! One row of an Arrow record batch, read as an event through the same
//! `EventParser` that reads an NDJSON line.
//!
//! Parquet, Arrow IPC and CSV inputs arrive as record batches. Rather than a
//! second set of coercion rules, a row is handed to the parser as a serde
//! map — column name, then cell — so a Parquet `int32` feeding a `string`
//! dimension becomes `"42"` exactly as the JSON number `42` would, and a bad
//! value is rejected with the same message.
//!
//! Before rows are read, `PreparedBatch::new` turns each column the spec
//! needs into a type the cell reader knows, once per batch: dictionaries are
//! unpacked, decimals become doubles, binary becomes text, and dates and
//! times print as text. The timestamp column, when it is typed (a Parquet
//! `TIMESTAMP` or `DATE`), is read as epoch milliseconds and given to the
//! parser directly; a text or numeric timestamp column goes through the
//! spec's `timestampSpec.format` like a JSON field.

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{
    DataType, Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    TimeUnit, TimestampMillisecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow::error::ArrowError;
use serde::de::value::{Error as CellError, StrDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use strata_storage::time::Millis;

use super::piece::ColumnChoice;
use crate::parse::{EventParser, ParseError, ParsedEvent};

/// A record batch ready to be read row by row: the columns the load reads,
/// in cell-readable types, and the typed timestamp column if there is one.
pub(super) struct PreparedBatch {
    columns: Vec<NamedColumn>,
    times: Option<Vec<Option<Millis>>>,
    rows: usize,
}

struct NamedColumn {
    name: String,
    array: ArrayRef,
}

/// Why a batch could not be prepared: a column of a type events cannot hold.
#[derive(Debug, thiserror::Error)]
#[error("column `{column}` of type {data_type} cannot be read as an event field: {reason}")]
pub struct UnreadableColumn {
    pub column: String,
    pub data_type: DataType,
    pub reason: String,
}

impl PreparedBatch {
    /// Prepares `batch`; `choice` says which top-level columns the spec
    /// reads (all of them under schema discovery), `timestamp` names the
    /// timestamp column.
    pub(super) fn new(
        batch: &RecordBatch,
        choice: &ColumnChoice,
        timestamp: &str,
    ) -> Result<PreparedBatch, UnreadableColumn> {
        let schema = batch.schema();
        let mut columns = Vec::new();
        let mut times = None;
        for (field, array) in schema.fields().iter().zip(batch.columns()) {
            let name = field.name();
            if name == timestamp && is_typed_time(array.data_type()) {
                times = Some(typed_times(array).map_err(|error| unreadable(name, array, error))?);
                continue;
            }
            if !choice.wants(name) {
                continue;
            }
            let array = readable(array).map_err(|error| unreadable(name, array, error))?;
            columns.push(NamedColumn {
                name: name.clone(),
                array,
            });
        }
        Ok(PreparedBatch {
            columns,
            times,
            rows: batch.num_rows(),
        })
    }

    pub(super) fn rows(&self) -> usize {
        self.rows
    }

    /// Row `row` as an event of `parser`'s spec.
    pub(super) fn parse(
        &self,
        parser: &EventParser,
        row: usize,
    ) -> Result<ParsedEvent, ParseError> {
        let fields = RowFields {
            columns: self.columns.iter(),
            row,
            value: None,
        };
        match &self.times {
            Some(times) => parser.parse_with_time(RowDeserializer(fields), times[row]),
            None => parser.parse_from(RowDeserializer(fields)),
        }
    }
}

fn unreadable(name: &str, array: &ArrayRef, error: ArrowError) -> UnreadableColumn {
    UnreadableColumn {
        column: name.to_owned(),
        data_type: array.data_type().clone(),
        reason: error.to_string(),
    }
}

fn is_typed_time(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64
    )
}

/// A timestamp or date column as epoch milliseconds, cut towards the past
/// below the millisecond as ISO-8601 text is.
fn typed_times(array: &ArrayRef) -> Result<Vec<Option<Millis>>, ArrowError> {
    let per_milli = match array.data_type() {
        DataType::Timestamp(TimeUnit::Microsecond, _) => 1_000,
        DataType::Timestamp(TimeUnit::Nanosecond, _) => 1_000_000,
        _ => {
            let millis = cast(array, &DataType::Timestamp(TimeUnit::Millisecond, None))?;
            return Ok(millis
                .as_primitive::<TimestampMillisecondType>()
                .iter()
                .collect());
        }
    };
    let raw = cast(array, &DataType::Int64)?;
    Ok(raw
        .as_primitive::<Int64Type>()
        .iter()
        .map(|value| value.map(|value| value.div_euclid(per_milli)))
        .collect())
}

fn cast(array: &ArrayRef, to: &DataType) -> Result<ArrayRef, ArrowError> {
    // Safe casts turn a value that does not fit into an error, not a null.
    let options = CastOptions {
        safe: false,
        ..CastOptions::default()
    };
    cast_with_options(array, to, &options)
}

/// `array` in a type [`CellDeserializer`] reads, converting the column once.
fn readable(array: &ArrayRef) -> Result<ArrayRef, ArrowError> {
    let to = match array.data_type() {
        DataType::Dictionary(_, values) => {
            let unpacked = cast(array, values)?;
            return readable(&unpacked);
        }
        DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => DataType::Float64,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => DataType::Utf8,
        DataType::Timestamp(..)
        | DataType::Date32
        | DataType::Date64
        | DataType::Time32(_)
        | DataType::Time64(_) => DataType::Utf8,
        _ => return Ok(array.clone()),
    };
    cast(array, &to)
}

/// One row, read as a map of column name to cell.
struct RowDeserializer<'b>(RowFields<'b>);

struct RowFields<'b> {
    columns: std::slice::Iter<'b, NamedColumn>,
    row: usize,
    value: Option<&'b dyn Array>,
}

impl<'de> Deserializer<'de> for RowDeserializer<'_> {
    type Error = CellError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CellError> {
        visitor.visit_map(self.0)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de> MapAccess<'de> for RowFields<'_> {
    type Error = CellError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, CellError> {
        match self.columns.next() {
            Some(column) => {
                self.value = Some(column.array.as_ref());
                seed.deserialize(StrDeserializer::<CellError>::new(&column.name))
                    .map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, CellError> {
        let array = self
            .value
            .take()
            .ok_or_else(|| de::Error::custom("a value was asked for before its key"))?;
        seed.deserialize(CellDeserializer {
            array,
            row: self.row,
        })
    }
}

/// One cell: a scalar, a list (a multi-value field) or a struct (a nested
/// object, flattened by the parser to dotted names).
struct CellDeserializer<'b> {
    array: &'b dyn Array,
    row: usize,
}

impl<'de> Deserializer<'de> for CellDeserializer<'_> {
    type Error = CellError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CellError> {
        let (array, row) = (self.array, self.row);
        if array.is_null(row) {
            return visitor.visit_unit();
        }
        match array.data_type() {
            DataType::Null => visitor.visit_unit(),
            DataType::Boolean => visitor.visit_bool(array.as_boolean().value(row)),
            DataType::Int8 => visitor.visit_i64(array.as_primitive::<Int8Type>().value(row).into()),
            DataType::Int16 => {
                visitor.visit_i64(array.as_primitive::<Int16Type>().value(row).into())
            }
            DataType::Int32 => {
                visitor.visit_i64(array.as_primitive::<Int32Type>().value(row).into())
            }
            DataType::Int64 => visitor.visit_i64(array.as_primitive::<Int64Type>().value(row)),
            DataType::UInt8 => {
                visitor.visit_u64(array.as_primitive::<UInt8Type>().value(row).into())
            }
            DataType::UInt16 => {
                visitor.visit_u64(array.as_primitive::<UInt16Type>().value(row).into())
            }
            DataType::UInt32 => {
                visitor.visit_u64(array.as_primitive::<UInt32Type>().value(row).into())
            }
            DataType::UInt64 => visitor.visit_u64(array.as_primitive::<UInt64Type>().value(row)),
            DataType::Float16 => {
                visitor.visit_f64(array.as_primitive::<Float16Type>().value(row).to_f64())
            }
            DataType::Float32 => {
                visitor.visit_f64(array.as_primitive::<Float32Type>().value(row).into())
            }
            DataType::Float64 => visitor.visit_f64(array.as_primitive::<Float64Type>().value(row)),
            DataType::Utf8 => visitor.visit_str(array.as_string::<i32>().value(row)),
            DataType::LargeUtf8 => visitor.visit_str(array.as_string::<i64>().value(row)),
            DataType::Utf8View => visitor.visit_str(array.as_string_view().value(row)),
            DataType::List(_) => {
                visitor.visit_seq(ListCells::new(&array.as_list::<i32>().value(row))?)
            }
            DataType::LargeList(_) => {
                visitor.visit_seq(ListCells::new(&array.as_list::<i64>().value(row))?)
            }
            DataType::FixedSizeList(..) => {
                visitor.visit_seq(ListCells::new(&array.as_fixed_size_list().value(row))?)
            }
            DataType::Struct(_) => {
                let fields = array.as_struct();
                let columns = fields
                    .column_names()
                    .into_iter()
                    .zip(fields.columns())
                    .map(|(name, array)| {
                        readable(array).map(|array| NamedColumn {
                            name: name.to_owned(),
                            array,
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(de::Error::custom)?;
                visitor.visit_map(RowFields {
                    columns: columns.iter(),
                    row,
                    value: None,
                })
            }
            other => Err(de::Error::custom(format!(
                "a value of Arrow type {other}, which an event field cannot hold"
            ))),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// The elements of one list cell.
struct ListCells {
    values: ArrayRef,
    next: usize,
}

impl ListCells {
    fn new(values: &ArrayRef) -> Result<ListCells, CellError> {
        Ok(ListCells {
            values: readable(values).map_err(de::Error::custom)?,
            next: 0,
        })
    }
}

impl<'de> SeqAccess<'de> for ListCells {
    type Error = CellError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, CellError> {
        if self.next >= self.values.len() {
            return Ok(None);
        }
        let row = self.next;
        self.next += 1;
        seed.deserialize(CellDeserializer {
            array: self.values.as_ref(),
            row,
        })
        .map(Some)
    }
}
