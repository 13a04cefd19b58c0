"""The three engines behind one small interface: load the dataset, answer a query, say the bytes.

Each engine is set up the way its users would set it up for this data, and held to the same
rules (README.md, "Fairness"):

- Strata is the release binary: the Parquet file bulk-loaded by `strata load` into a fresh data
  directory (or, with `--strata-load http`, the NDJSON fed over HTTP by two clients, the way
  events arrive in production), then `strata serve` on a free port, asked over one keep-alive
  HTTP connection: its times include HTTP and JSON, end to end.
- ClickHouse is the `chdb` package (embedded ClickHouse) with a MergeTree table ordered by time,
  LowCardinality strings and a `text` index on `message`, loaded from the Parquet file.
  Every query runs with `max_threads = 2` and the query-condition cache off.
- DuckDB is the `duckdb` package with a native table sorted by time, loaded from the Parquet
  file, `threads = 2`. Its timestamps are stored as UTC `TIMESTAMP`s, so that truncation to
  the day does not depend on the session's time zone.

For search, tantivy on its own is a fourth engine (`TantivyAlone`): a release binary of
`benches/src/bin/tantivy_alone.rs` that indexes the Parquet file's messages, times the searches
it is given in process and prints their answers and times, so that Strata's search is quoted
against the library it is built on.

A peer's time includes producing its answer (chdb's JSON, DuckDB's Python tuples), as Strata's
includes its JSON, but not parsing it.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from queries import Query

# The reference datasource, as /work/shared/DATASET.md (the spec that loads it) gives it.
ACCESS_SPEC = {
    "dataSource": "access",
    "timestampSpec": {"column": "timestamp", "format": "iso"},
    "dimensionsSpec": {
        "dimensions": [
            "service",
            "region",
            "method",
            {"type": "long", "name": "status"},
            "country",
            {"type": "string", "name": "host", "rollup": False},
            {"type": "string", "name": "path", "rollup": False},
            {"type": "string", "name": "user_id", "rollup": False},
            {"type": "text", "name": "message"},
        ]
    },
    "metricsSpec": [
        {"type": "count", "name": "count"},
        {"type": "longSum", "name": "bytes", "fieldName": "bytes"},
        {"type": "doubleSum", "name": "duration_sum", "fieldName": "duration_ms"},
        {"type": "doubleMax", "name": "duration_max", "fieldName": "duration_ms"},
        {"type": "longSum", "name": "retries", "fieldName": "retries"},
        {"type": "HLLSketchBuild", "name": "users", "fieldName": "user_id"},
        {"type": "quantilesDoublesSketch", "name": "duration_sketch", "fieldName": "duration_ms"},
    ],
    "granularitySpec": {"segmentGranularity": "day", "queryGranularity": "minute", "rollup": True},
}

# Bodies of about this size (cut at a line end) are sent per ingest request: well under the
# server's 64 MiB default limit, large enough that HTTP overhead does not count.
INGEST_BODY_BYTES = 8 << 20
INGEST_CLIENTS = 2
# Compaction merges a day's partitions in the background, one chunk at a time.
COMPACTION_WAIT_SECONDS = 300


class EngineError(Exception):
    """An engine failed to start, load or answer; the message says which and why."""


@dataclass
class LoadFigures:
    """What loading the dataset cost an engine."""

    events: int
    seconds: float
    bytes_on_disk: int
    note: str = ""

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def directory_bytes(path: Path) -> int:
    """Bytes of every file under `path`, as `du -sb` counts them."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except FileNotFoundError:
                continue
    return total


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class StrataEngine:
    """`strata serve` as a child process, over HTTP (see the module docs)."""

    name = "strata"

    def __init__(self, binary: Path, work_dir: Path):
        self.binary = binary
        self.data_dir = work_dir / "strata-data"
        self.log_path = work_dir / "strata.log"
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self._connection: http.client.HTTPConnection | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Chunks of 2024 closed long ago: a short handoff window hands each day off (persists
        # and publishes it) a second after its first event, rather than ten minutes after.
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [
                    str(self.binary),
                    "serve",
                    "--data-dir",
                    str(self.data_dir),
                    "--listen",
                    f"127.0.0.1:{self.port}",
                    "--handoff-window",
                    "1s",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EngineError(f"strata serve exited with {self.process.returncode}; see {self.log_path}")
            try:
                status, _ = self._request("GET", "/status/health")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise EngineError(f"strata serve did not answer /status/health within 60 s; see {self.log_path}")

    def stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def _request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        """One request on the keep-alive connection (reopened if the server closed it)."""
        for attempt in range(2):
            if self._connection is None:
                self._connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
            try:
                self._connection.request(method, path, body=body, headers=headers or {})
                response = self._connection.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._connection.close()
                self._connection = None
                if attempt == 1:
                    raise
            except (OSError, http.client.HTTPException):
                self._connection.close()
                self._connection = None
                raise
        raise AssertionError("unreachable")

    def _json(self, method: str, path: str, document: object | None = None) -> tuple[int, object]:
        body = None if document is None else json.dumps(document).encode()
        status, raw = self._request(method, path, body, {"content-type": "application/json"})
        try:
            return status, json.loads(raw)
        except json.JSONDecodeError:
            return status, raw.decode(errors="replace")

    def bulk_load(self, parquet: Path, events: int, memory: str) -> LoadFigures:
        """`strata load --data-dir` of the Parquet file, before the server starts (the data
        directory is the server's). The seconds are the load's: the data is queryable once it
        publishes. Call `compacted` once the server runs, to wait for compaction and count
        the segments' bytes."""
        spec = self.data_dir.parent / "access-spec.json"
        spec.write_text(json.dumps(ACCESS_SPEC))
        command = [
            str(self.binary), "load", "--data-dir", str(self.data_dir), "--spec", str(spec),
            "--datasource", "access", "--memory", memory, str(parquet),
        ]
        started = time.perf_counter()
        loaded = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if loaded.returncode != 0:
            raise EngineError(f"strata load failed ({loaded.returncode}): {loaded.stderr}{loaded.stdout}")
        read = re.search(r"rows read: (\d+), rejected: (\d+)", loaded.stdout)
        if read is None or int(read.group(1)) != events or int(read.group(2)) != 0:
            raise EngineError(f"strata load did not take the {events} events:\n{loaded.stdout}")
        published = re.search(r"segments published: (\d+)", loaded.stdout).group(1)
        return LoadFigures(
            events=events,
            seconds=seconds,
            bytes_on_disk=directory_bytes(self.data_dir / "segments"),
            note=f"`strata load` of the Parquet file (`--memory {memory}`): {published} segments",
        )

    def compacted(self, load: LoadFigures) -> LoadFigures:
        """`load` once the server's compaction has merged each day's partitions, with the
        segments' bytes then."""
        started = time.perf_counter()
        segments, rows = self._wait_until_persisted_and_compacted()
        return LoadFigures(
            events=load.events,
            seconds=load.seconds,
            bytes_on_disk=directory_bytes(self.data_dir / "segments"),
            note=(
                f"{load.note}, then compacted by the server into {segments} segments of {rows:,} "
                f"rollup rows ({rows / load.events:.1%} of the events) in "
                f"{time.perf_counter() - started:.1f} s more; the segments' bytes"
            ),
        )

    def load(self, ndjson: Path, events: int) -> LoadFigures:
        status, answer = self._json("POST", "/v1/datasources", ACCESS_SPEC)
        if status != 201:
            raise EngineError(f"creating the `access` datasource answered {status}: {answer}")
        started = time.perf_counter()
        accepted = _ingest(self.port, ndjson)
        ingested = time.perf_counter() - started
        if accepted != events:
            raise EngineError(f"Strata accepted {accepted} of {events} events; see {self.log_path}")
        segments, rows = self._wait_until_persisted_and_compacted()
        total = time.perf_counter() - started
        wal = directory_bytes(self.data_dir / "wal")
        return LoadFigures(
            events=accepted,
            seconds=total,
            bytes_on_disk=directory_bytes(self.data_dir / "segments"),
            note=(
                f"HTTP ingest {accepted / ingested:,.0f} events/s ({ingested:.1f} s), then persisted "
                f"and compacted into {segments} segments of {rows:,} rollup rows "
                f"({rows / accepted:.1%} of the events); the segments' bytes, without the "
                f"{wal / accepted:.1f} bytes/event of write-ahead log not yet trimmed"
            ),
        )

    def text_index_bytes(self) -> int:
        """Bytes of the full-text indexes: the `text` directories inside the segments."""
        return sum(
            directory_bytes(Path(root) / name)
            for root, directories, _ in os.walk(self.data_dir / "segments")
            for name in directories
            if name == "text"
        )

    def _wait_until_persisted_and_compacted(self) -> tuple[int, int]:
        """Waits until the real-time index is empty and compaction has merged each day chunk's
        partitions into one segment: the state a dashboard queries. Gives compaction at most
        `COMPACTION_WAIT_SECONDS` once everything is persisted, then goes on with the segments
        there are. Returns the segments and the rows they hold."""
        deadline = time.monotonic() + 900
        persisted_at = None
        while time.monotonic() < deadline:
            status, described = self._json("GET", "/v1/datasources/access")
            if status != 200:
                raise EngineError(f"describing `access` answered {status}: {described}")
            segments = described.get("segments", [])
            if described.get("realtime", {}).get("events", 1) == 0:
                persisted_at = persisted_at or time.monotonic()
                intervals = {json.dumps(s.get("interval")) for s in segments}
                compacted = len(intervals) == len(segments)
                if compacted or time.monotonic() - persisted_at > COMPACTION_WAIT_SECONDS:
                    return len(segments), int(described.get("rows", 0))
            time.sleep(0.2)
        raise EngineError(f"Strata did not persist the events within 900 s; see {self.log_path}")

    def answer(self, query: Query, druid: dict) -> tuple[float, object]:
        """Seconds to answer (one HTTP request, end to end) and the parsed answer."""
        body = json.dumps(druid).encode()
        started = time.perf_counter()
        try:
            status, raw = self._request("POST", "/druid/v2", body, {"content-type": "application/json"})
        except (OSError, http.client.HTTPException) as error:
            raise EngineError(f"no answer from strata serve ({error}); see {self.log_path}") from error
        elapsed = time.perf_counter() - started
        try:
            answer = json.loads(raw)
        except json.JSONDecodeError as error:
            raise EngineError(f"HTTP {status}, not JSON ({error}): {raw[:300]!r}") from error
        if status != 200:
            message = (
                answer.get("errorMessage") or answer.get("message") if isinstance(answer, dict) else None
            )
            raise EngineError(f"HTTP {status}: {message or answer}")
        return elapsed, answer


def _ingest(port: int, ndjson: Path) -> int:
    """Sends the file's lines in line-aligned bodies over `INGEST_CLIENTS` connections, honouring
    429 Retry-After; returns the events accepted."""
    lock = threading.Lock()
    accepted = [0]
    failures: list[str] = []
    carry = [b""]

    def next_body() -> bytes:
        with lock:
            block = carry[0] + source.read(INGEST_BODY_BYTES)
            cut = block.rfind(b"\n") + 1
            if cut == 0:
                carry[0] = b""
                return block
            carry[0] = block[cut:]
            return block[:cut]

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        try:
            while not failures:
                body = next_body()
                if not body:
                    return
                while True:
                    connection.request(
                        "POST",
                        "/v1/datasources/access/ingest",
                        body=body,
                        headers={"content-type": "application/x-ndjson"},
                    )
                    response = connection.getresponse()
                    raw = response.read()
                    if response.status == 429:
                        time.sleep(float(response.getheader("retry-after", "1")))
                        continue
                    break
                if response.status != 200:
                    failures.append(f"ingest answered {response.status}: {raw[:300]!r}")
                    return
                report = json.loads(raw)
                if report.get("rejected"):
                    failures.append(f"ingest rejected lines: {report.get('errors', [])[:3]}")
                with lock:
                    accepted[0] += report.get("accepted", 0)
        except OSError as error:
            failures.append(f"ingest connection failed: {error}")
        finally:
            connection.close()

    with open(ndjson, "rb") as source:
        threads = [threading.Thread(target=client) for _ in range(INGEST_CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if failures:
        raise EngineError("; ".join(failures))
    return accepted[0]


CHDB_SCHEMA = """
CREATE TABLE access (
    timestamp DateTime64(3, 'UTC'), service LowCardinality(String),
    region LowCardinality(String), host LowCardinality(String), method LowCardinality(String),
    status UInt16, path LowCardinality(String), country LowCardinality(String), user_id String,
    duration_ms Float64, bytes UInt64, retries UInt8, message String,
    INDEX message_text message TYPE text(tokenizer = 'splitByNonAlpha')
) ENGINE = MergeTree ORDER BY timestamp
"""

# Two threads, no result or condition caches: the same terms as the other engines.
CHDB_SETTINGS = (
    " SETTINGS max_threads = 2, use_query_condition_cache = 0, use_query_cache = 0,"
    " output_format_json_quote_64bit_integers = 0"
)


class ChdbEngine:
    """ClickHouse embedded through `chdb` (see the module docs)."""

    name = "chdb"

    def __init__(self, work_dir: Path):
        from chdb import session

        self.data_dir = work_dir / "chdb-data"
        self.data_dir.mkdir(parents=True)
        self.session = session.Session(str(self.data_dir))

    def load(self, parquet: Path, events: int) -> LoadFigures:
        self.session.query(CHDB_SCHEMA)
        started = time.perf_counter()
        self.session.query(
            f"INSERT INTO access SELECT * FROM file('{parquet}', Parquet) "
            "SETTINGS max_threads = 2, max_insert_threads = 2"
        )
        self.session.query("OPTIMIZE TABLE access FINAL SETTINGS max_threads = 2")
        elapsed = time.perf_counter() - started
        rows = self._rows("SELECT count() FROM access")[0][0]
        if int(rows) != events:
            raise EngineError(f"chdb holds {rows} rows of {events}")
        on_disk = self._rows("SELECT sum(bytes_on_disk) FROM system.parts WHERE table = 'access' AND active")[
            0
        ][0]
        return LoadFigures(events, elapsed, int(on_disk), note="Parquet INSERT, then OPTIMIZE FINAL")

    def text_index_bytes(self) -> int:
        """Bytes on disk of the `text` index on `message`, in the active parts."""
        rows = self._rows(
            "SELECT sum(data_compressed_bytes) FROM system.data_skipping_indices "
            "WHERE table = 'access' AND name = 'message_text'"
        )
        return int(rows[0][0])

    def _rows(self, sql: str) -> list[list]:
        return json.loads(self.session.query(sql + CHDB_SETTINGS, "JSONCompact").bytes())["data"]

    def answer(self, query: Query) -> tuple[float, list[tuple]]:
        sql = query.chdb + CHDB_SETTINGS
        started = time.perf_counter()
        try:
            result = self.session.query(sql, "JSONCompact")
        except RuntimeError as error:
            raise EngineError(f"chdb: {error}") from error
        elapsed = time.perf_counter() - started
        return elapsed, [tuple(row) for row in json.loads(result.bytes())["data"]]

    def stop(self) -> None:
        self.session.close()


class DuckdbEngine:
    """DuckDB with a native table sorted by time (see the module docs)."""

    name = "duckdb"

    def __init__(self, work_dir: Path):
        import duckdb

        self.path = work_dir / "duckdb" / "access.duckdb"
        self.path.parent.mkdir(parents=True)
        self.connection = duckdb.connect(str(self.path))
        self.connection.execute("SET threads = 2")
        self.connection.execute("SET TimeZone = 'UTC'")

    def load(self, parquet: Path, events: int) -> LoadFigures:
        started = time.perf_counter()
        self.connection.execute(
            "CREATE TABLE access AS SELECT * REPLACE (timestamp::TIMESTAMP AS timestamp) "
            f"FROM read_parquet('{parquet}') ORDER BY timestamp"
        )
        self.connection.execute("CHECKPOINT")
        elapsed = time.perf_counter() - started
        rows = self.connection.execute("SELECT count(*) FROM access").fetchone()[0]
        if rows != events:
            raise EngineError(f"DuckDB holds {rows} rows of {events}")
        return LoadFigures(
            events, elapsed, directory_bytes(self.path.parent), note="Parquet CTAS sorted by time"
        )

    def answer(self, query: Query) -> tuple[float, list[tuple]]:
        import duckdb

        started = time.perf_counter()
        try:
            rows = self.connection.execute(query.duckdb).fetchall()
        except duckdb.Error as error:
            raise EngineError(f"DuckDB: {error}") from error
        return time.perf_counter() - started, rows

    def rows(self, sql: str) -> list[tuple]:
        """Untimed SQL: the oracle's answers and distributions."""
        return self.connection.execute(sql).fetchall()

    def stop(self) -> None:
        self.connection.close()


@dataclass
class TantivySearch:
    """One search as tantivy alone answered and timed it."""

    rows: list
    runs_seconds: list[float]


class TantivyAlone:
    """`tantivy_alone` (see the module docs): indexes once, answers every search it is given."""

    name = "tantivy"

    def __init__(self, binary: Path, work_dir: Path):
        self.binary = binary
        self.index_dir = work_dir / "tantivy-index"
        self.searches: dict[str, TantivySearch] = {}
        self.index_bytes = 0
        self.documents = 0
        self.segments = 0
        self.index_seconds = 0.0

    def run(self, parquet: Path, searches: dict[str, str], limit: int, runs: int) -> None:
        """Indexes the Parquet file's messages and runs `searches` (name: query text)."""
        command = [
            str(self.binary),
            "--parquet",
            str(parquet),
            "--index",
            str(self.index_dir),
            "--limit",
            str(limit),
            "--runs",
            str(runs),
        ]
        for name, text in searches.items():
            command += ["--search", f"{name}={text}"]
        finished = subprocess.run(command, capture_output=True, text=True)
        if finished.returncode != 0:
            raise EngineError(f"tantivy_alone exited with {finished.returncode}: {finished.stderr.strip()}")
        try:
            report = json.loads(finished.stdout)
            self.searches = {
                search["name"]: TantivySearch(search["rows"], search["runs_seconds"])
                for search in report["searches"]
            }
            self.index_bytes = int(report["index_bytes"])
            self.documents = int(report["documents"])
            self.segments = int(report["segments"])
            self.index_seconds = float(report["index_seconds"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise EngineError(f"tantivy_alone printed no report ({error}): {finished.stdout[:300]!r}") from error


def fresh_work_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="strata-compare-"))


def remove_work_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
