"""ClickHouse's bulk JSONEachRow insert of an NDJSON file, through chdb (embedded ClickHouse).

The peer of Strata's HTTP ingest figure (docs/benchmarks.md, "HTTP ingest"): the same reference
events, inserted into a MergeTree table ordered by time with LowCardinality strings, two
threads, three timed runs on a fresh table each.

    python3 -m venv /tmp/chdb-venv && /tmp/chdb-venv/bin/pip install chdb
    strata gen -n 1000000 -o /tmp/events.ndjson
    /tmp/chdb-venv/bin/python benches/peers/chdb_insert.py /tmp/events.ndjson

Issue 7's comparison harness will run this kind of peer in the same run as Strata.
"""

import shutil
import sys
import tempfile
import time

from chdb import session

SCHEMA = """
CREATE TABLE access (
    timestamp DateTime64(3, 'UTC'), service LowCardinality(String),
    region LowCardinality(String), host LowCardinality(String), method LowCardinality(String),
    status UInt16, path LowCardinality(String), country LowCardinality(String), user_id String,
    duration_ms Float64, bytes UInt64, retries UInt8, message String
) ENGINE = MergeTree ORDER BY timestamp
"""


def main(path: str) -> None:
    for run in range(1, 4):
        data_dir = tempfile.mkdtemp(prefix="chdb-")
        try:
            db = session.Session(data_dir)
            db.query(SCHEMA)
            started = time.perf_counter()
            db.query(
                f"INSERT INTO access SELECT * FROM file('{path}', JSONEachRow) "
                "SETTINGS max_threads = 2, max_insert_threads = 2"
            )
            elapsed = time.perf_counter() - started
            rows = int(db.query("SELECT count() FROM access").bytes().decode().strip())
            print(f"run {run}: {rows} rows in {elapsed:.3f} s = {rows / elapsed:.0f} events/s")
            db.close()
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1])
