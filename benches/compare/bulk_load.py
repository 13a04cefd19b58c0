#!/usr/bin/env python3
"""Bulk load: `strata load` beside ClickHouse (chdb) inserting the same files, text index built.

    python3 benches/compare/bulk_load.py            # 10M events, Parquet and NDJSON
    python3 benches/compare/bulk_load.py --quick    # 1M events

For each file of the reference dataset (Parquet, then NDJSON), in the same run on the same
machine: the release `strata load --data-dir` into a fresh data directory with the reference
spec (its `message` text index included), and chdb's `INSERT INTO access SELECT * FROM file(...)`
into a fresh MergeTree table with its `text` index on `message` (the harness's table,
`max_insert_threads = 2`; no OPTIMIZE afterwards, which would only add to chdb's time). Both are
timed from start to durable end; Strata's peak resident memory is read from the kernel
(`wait4`), beside its `--memory` budget. The figures go to stdout and to `bulk-load-last-run.md`
in `--output`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import compare  # noqa: E402  (the harness's virtualenv, release build and datasets)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=10_000_000, help="events (default 10M)")
    parser.add_argument("--quick", action="store_true", help="1M events")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--memory", default="1GiB", help="strata load --memory (default 1GiB)")
    parser.add_argument("--binary", type=Path, help="a strata binary instead of the release build")
    parser.add_argument("--output", type=Path, default=HERE, help="where bulk-load-last-run.md goes")
    args = parser.parse_args()
    if args.quick:
        args.events = 1_000_000
    return args


def strata_load(binary: Path, work: Path, path: Path, memory: str, events: int) -> dict:
    from engines import ACCESS_SPEC, directory_bytes

    data = work / f"strata-{path.suffix[1:]}"
    spec = work / "access.json"
    spec.write_text(json.dumps(ACCESS_SPEC))
    command = [
        str(binary), "load", "--data-dir", str(data), "--spec", str(spec),
        "--datasource", "access", "--memory", memory, str(path),
    ]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    report = process.stdout.read().decode()
    errors = process.stderr.read().decode()
    if status != 0:
        raise SystemExit(f"strata load failed ({status}):\n{errors}\n{report}")
    read = int(re.search(r"rows read: (\d+), rejected: (\d+)", report).group(1))
    if read != events:
        raise SystemExit(f"strata load read {read} rows of {events}:\n{report}")
    segments = re.search(r"segments published: (\d+)", report).group(1)
    return {
        "seconds": seconds,
        "rate": events / seconds,
        "peak_rss": usage.ru_maxrss * 1024,
        "bytes": directory_bytes(data / "segments"),
        "note": f"{segments} segments; `strata load --memory {memory}`",
    }


def chdb_insert(work: Path, path: Path, events: int) -> dict:
    from chdb import session

    from engines import CHDB_SCHEMA

    directory = work / f"chdb-{path.suffix[1:]}"
    directory.mkdir()
    connection = session.Session(str(directory))
    try:
        connection.query(CHDB_SCHEMA)
        if path.suffix == ".parquet":
            source = f"file('{path}', Parquet)"
            settings = ""
        else:
            structure = (
                "timestamp DateTime64(3), service String, region String, host String, "
                "method String, status UInt16, path String, country String, user_id String, "
                "duration_ms Float64, bytes UInt64, retries UInt8, message String"
            )
            source = f"file('{path}', JSONEachRow, '{structure}')"
            settings = ", date_time_input_format = 'best_effort'"
        started = time.perf_counter()
        connection.query(
            f"INSERT INTO access SELECT * FROM {source} "
            f"SETTINGS max_threads = 2, max_insert_threads = 2{settings}"
        )
        seconds = time.perf_counter() - started
        rows = json.loads(connection.query("SELECT count() FROM access", "JSONCompact").bytes())["data"][0][0]
        if int(rows) != events:
            raise SystemExit(f"chdb holds {rows} rows of {events}")
        on_disk = json.loads(
            connection.query(
                "SELECT sum(bytes_on_disk) FROM system.parts WHERE table = 'access' AND active",
                "JSONCompact",
            ).bytes()
        )["data"][0][0]
    finally:
        connection.close()
    return {"seconds": seconds, "rate": events / seconds, "bytes": int(on_disk), "note": "INSERT ... SELECT FROM file()"}


def main() -> None:
    args = parse_args()
    compare.ensure_virtualenv()
    binary = compare.release_binary(args)
    files = [
        compare.dataset(binary, args.events, args.seed, "parquet"),
        compare.dataset(binary, args.events, args.seed, "ndjson"),
    ]
    rows = []
    with tempfile.TemporaryDirectory(prefix="strata-bulk-load-") as scratch:
        work = Path(scratch)
        for path in files:
            compare.log(f"strata load {path.name}")
            strata = strata_load(binary, work, path, args.memory, args.events)
            compare.log(f"  {strata['rate']:,.0f} rows/s, peak RSS {strata['peak_rss'] / 2**20:,.0f} MiB")
            compare.log(f"chdb INSERT {path.name}")
            chdb = chdb_insert(work, path, args.events)
            compare.log(f"  {chdb['rate']:,.0f} rows/s")
            rows.append((path, strata, chdb))
    lines = [
        f"# Bulk load: Strata vs chdb, {args.events:,} events",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit `{compare.commit()}`, "
        f"{compare.machine()}; command: `python3 benches/compare/bulk_load.py {' '.join(sys.argv[1:])}`.",
        "",
        "| file | bytes | Strata s | Strata rows/s | Strata peak RSS | chdb s | chdb rows/s | Strata / chdb rate | target |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for path, strata, chdb in rows:
        ratio = strata["rate"] / chdb["rate"]
        lines.append(
            f"| {path.suffix[1:]} | {path.stat().st_size:,} | {strata['seconds']:.1f} | {strata['rate']:,.0f} | "
            f"{strata['peak_rss'] / 2**20:,.0f} MiB (`--memory {args.memory}`) | {chdb['seconds']:.1f} | "
            f"{chdb['rate']:,.0f} | {ratio:.2f}× | {'meets' if ratio >= 2 else 'misses'} ≥ 2× |"
        )
    lines += [
        "",
        "Segment bytes after the load: "
        + "; ".join(
            f"{path.suffix[1:]}: Strata {strata['bytes'] / args.events:.1f} B/event ({strata['note']}), "
            f"chdb {chdb['bytes'] / args.events:.1f} B/event"
            for path, strata, chdb in rows
        ),
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "bulk-load-last-run.md").write_text(report)


if __name__ == "__main__":
    main()
