"""Writes NDJSON web events (tests/src/web_events.rs) as Parquet with pyarrow.

Usage: write_parquet.py EVENTS.ndjson OUT.parquet

The columns are typed as a warehouse export types them: the timestamp as
timestamp[ms, UTC], numbers as int64 and double, strings dictionary-encoded,
in row groups of 700 rows, zstd-compressed.
"""

import datetime
import json
import sys

import pyarrow as pa
import pyarrow.parquet as pq


def main(source, target):
    rows = [json.loads(line) for line in open(source, encoding="utf-8") if line.strip()]
    times = [
        datetime.datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00"))
        for row in rows
    ]
    table = pa.table(
        {
            "timestamp": pa.array(times, type=pa.timestamp("ms", tz="UTC")),
            "service": pa.array([row["service"] for row in rows]).dictionary_encode(),
            "status": pa.array([row["status"] for row in rows], type=pa.int64()),
            "user": pa.array([row["user"] for row in rows], type=pa.string()),
            "bytes": pa.array([row["bytes"] for row in rows], type=pa.int64()),
            "duration_ms": pa.array([row["duration_ms"] for row in rows], type=pa.float64()),
        }
    )
    pq.write_table(table, target, row_group_size=700, compression="zstd")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
