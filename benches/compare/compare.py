#!/usr/bin/env python3
"""Strata beside ClickHouse (chdb) and DuckDB on the dashboard query set, in one command.

    python3 benches/compare/compare.py            # 10M events
    python3 benches/compare/compare.py --quick    # 1M events

It makes its own virtualenv with the pinned peers, generates the reference dataset (cached by
seed and size), builds and starts the release server, loads the same events into each engine,
checks every answer against an exact oracle, and only then times: one warm-up, five runs, the
median. README.md beside this file explains the figures and the fairness rules.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import venv
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
VENV = Path.home() / ".cache" / "strata-compare-venv"
DATASETS = Path.home() / ".cache" / "strata-datasets"
REQUIREMENTS = HERE / "requirements.txt"


def ensure_virtualenv() -> None:
    """Re-runs this script inside the virtualenv with the pinned peers, making it first if needed
    (or again when requirements.txt changed)."""
    python = VENV / "bin" / "python"
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    stamp = VENV / "requirements.sha256"
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if not python.exists() or not stamp.exists() or stamp.read_text() != wanted:
        print(f"making the virtualenv {VENV} with {REQUIREMENTS.name}", file=sys.stderr)
        venv.create(VENV, with_pip=True, clear=python.exists())
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)], check=True)
        stamp.write_text(wanted)
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=10_000_000, help="events in the dataset (default 10M)")
    parser.add_argument("--quick", action="store_true", help="1M events, for a quick run")
    parser.add_argument("--seed", type=int, default=42, help="dataset seed (default 42, the published one)")
    parser.add_argument("--queries", help="comma-separated query names to run (default: all)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs after the warm-up (default 5)")
    parser.add_argument(
        "--slow-seconds",
        type=float,
        default=20.0,
        help="an answer slower than this is timed once, not warmed up and repeated (default 20)",
    )
    parser.add_argument("--keep", action="store_true", help="leave the Strata server running at the end")
    parser.add_argument(
        "--binary", type=Path, help="a strata binary to use instead of building the release one"
    )
    parser.add_argument("--output", type=Path, default=HERE, help="where last-run.md and last-run.json go")
    args = parser.parse_args()
    if args.quick:
        args.events = 1_000_000
    return args


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def release_binary(args: argparse.Namespace) -> Path:
    if args.binary:
        return args.binary
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache" / "strata-target"))
    log(f"cargo build --release -p strata-tools (target {target})")
    subprocess.run(
        ["cargo", "build", "--release", "-p", "strata-tools"],
        cwd=REPO,
        env={**os.environ, "CARGO_TARGET_DIR": str(target)},
        check=True,
    )
    return target / "release" / "strata"


def dataset(binary: Path, events: int, seed: int, extension: str) -> Path:
    """The reference dataset as NDJSON or Parquet, generated once per seed and size."""
    DATASETS.mkdir(parents=True, exist_ok=True)
    path = DATASETS / f"access-seed{seed}-{events}.{extension}"
    if not path.exists():
        log(f"strata gen --events {events} --seed {seed} --output {path}")
        subprocess.run(
            [
                str(binary),
                "gen",
                "--events",
                str(events),
                "--seed",
                str(seed),
                "--output",
                str(path),
                "--quiet",
            ],
            check=True,
        )
    return path


def timed_median(answer, runs: int) -> tuple[float, list[float]]:
    """One warm-up, then `runs` timed answers; the median and every run, in seconds."""
    answer()
    times = [answer() for _ in range(runs)]
    return statistics.median(times), times


def check_and_time(engine_name: str, ask, query, oracle, distributions, runs: int, slow: float) -> dict:
    """Asks once and checks the answer against the oracle; times only a right answer. An answer
    that took longer than `slow` seconds is not asked again: its one time is quoted, marked."""
    from answers import AnswerShapeError, differences, normalize, strata_rows
    from engines import EngineError

    try:
        first, raw = ask()
        rows = strata_rows(query, raw) if engine_name == "strata" else raw
        problems = differences(query, oracle, normalize(query, rows), distributions)
    except (EngineError, AnswerShapeError) as error:
        return {"status": f"failed: {error}"}
    if problems:
        shown = problems[:5] + ([f"... and {len(problems) - 5} more"] if len(problems) > 5 else [])
        return {"status": "wrong answer", "differences": shown}
    if first > slow:
        return {"status": "ok", "median_ms": first * 1000, "runs_ms": [first * 1000], "single_run": True}
    median, times = timed_median(lambda: ask()[0], runs)
    return {"status": "ok", "median_ms": median * 1000, "runs_ms": [t * 1000 for t in times]}


def run_queries(selected, strata, chdb, duck, runs: int, slow: float) -> list[dict]:
    from answers import Distributions, normalize
    from queries import events_table_variant

    results = []
    for query in selected:
        log(f"query {query.name}: {query.title}")
        oracle = normalize(query, duck.rows(query.oracle_sql()))
        distributions = Distributions(duck.rows(query.distribution)) if query.distribution else None
        result = {"name": query.name, "title": query.title, "rows": len(oracle)}
        native_table = "rollup" if query.rollup_answers else "events"
        result["strata"] = check_and_time(
            "strata", partial(strata.answer, query, query.druid), query, oracle, distributions, runs, slow
        )
        result["strata"]["table"] = native_table
        if query.rollup_answers:
            variant = events_table_variant(query.druid)
            result["strata_events"] = check_and_time(
                "strata", partial(strata.answer, query, variant), query, oracle, distributions, runs, slow
            )
        else:
            result["strata_events"] = dict(result["strata"])
        result["strata_events"]["table"] = "events"
        result["chdb"] = check_and_time(
            "chdb", partial(chdb.answer, query), query, oracle, distributions, runs, slow
        )
        result["duckdb"] = check_and_time(
            "duckdb", partial(duck.answer, query), query, oracle, distributions, runs, slow
        )
        for key in ("strata", "strata_events", "chdb", "duckdb"):
            entry = result[key]
            shown = f"{entry['median_ms']:.2f} ms" if entry["status"] == "ok" else entry["status"]
            log(f"  {key}: {shown}")
            for difference in entry.get("differences", []):
                log(f"    {difference}")
        results.append(result)
    return results


def faster_peer_ms(result: dict) -> float | None:
    peers = [result[p]["median_ms"] for p in ("chdb", "duckdb") if result[p]["status"] == "ok"]
    return min(peers) if peers else None


def ratio(result: dict, strata_key: str) -> float | None:
    peer = faster_peer_ms(result)
    strata = result[strata_key]
    if peer is None or strata["status"] != "ok":
        return None
    return strata["median_ms"] / peer


def geometric_mean(values: list[float]) -> float | None:
    values = [v for v in values if v is not None and v > 0]
    if not values:
        return None
    return statistics.geometric_mean(values)


def summary(results: list[dict]) -> dict:
    """Geometric means over the queries every engine answered right."""
    complete = [
        r
        for r in results
        if all(r[k]["status"] == "ok" for k in ("strata", "strata_events", "chdb", "duckdb"))
    ]
    return {
        "queries_complete": len(complete),
        "queries": len(results),
        **{
            f"geomean_{key}_ms": geometric_mean([r[key]["median_ms"] for r in complete])
            for key in ("strata", "strata_events", "chdb", "duckdb")
        },
        "geomean_ratio": geometric_mean([ratio(r, "strata") for r in complete]),
        "geomean_ratio_events": geometric_mean([ratio(r, "strata_events") for r in complete]),
    }


def cell(entry: dict) -> str:
    if entry["status"] == "ok":
        return f"{entry['median_ms']:.2f}" + (" (1 run)" if entry.get("single_run") else "")
    if entry["status"] == "wrong answer":
        return "wrong answer"
    return "failed"


def figure(value: float | None, digits: int = 2, suffix: str = "") -> str:
    return "—" if value is None else f"{value:.{digits}f}{suffix}"


def markdown(meta: dict, loads: dict, results: list[dict], totals: dict) -> str:
    lines = [
        f"# Dashboard query set: Strata vs chdb vs DuckDB, {meta['events']:,} events",
        "",
        f"{meta['date']}, commit `{meta['commit']}` (binary `{meta['binary']}`), {meta['machine']}; "
        f"seed {meta['seed']}; "
        f"one warm-up then {meta['runs']} runs, the median; 2 threads per engine. "
        "Command: `python3 benches/compare/compare.py " + meta["arguments"] + "`. "
        f"Load average (1 min): {meta['load_average']}.",
        "",
        "## Load",
        "",
        "| engine | events | seconds | events/s | bytes on disk | bytes/event | how |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, load in loads.items():
        lines.append(
            f"| {name} | {load['events']:,} | {load['seconds']:.1f} | {load['events_per_second']:,.0f} | "
            f"{load['bytes_on_disk']:,} | {load['bytes_on_disk'] / load['events']:.1f} | {load['note']} |"
        )
    lines += [
        "",
        "## Queries (median ms)",
        "",
        "| query | Strata table | Strata | Strata events table | chdb | DuckDB | Strata / faster peer | events table / faster peer |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['name']} | {r['strata']['table']} | {cell(r['strata'])} | {cell(r['strata_events'])} | "
            f"{cell(r['chdb'])} | {cell(r['duckdb'])} | {figure(ratio(r, 'strata'), 3)} | "
            f"{figure(ratio(r, 'strata_events'), 3)} |"
        )
    lines += [
        (
            f"| **geometric mean** ({totals['queries_complete']} of {totals['queries']} queries answered right "
            "by every engine) | | "
            f"{figure(totals['geomean_strata_ms'])} | {figure(totals['geomean_strata_events_ms'])} | "
            f"{figure(totals['geomean_chdb_ms'])} | {figure(totals['geomean_duckdb_ms'])} | "
            f"**{figure(totals['geomean_ratio'], 3)}** | **{figure(totals['geomean_ratio_events'], 3)}** |"
        ),
        "",
    ]
    if any(
        r[key].get("single_run") for r in results for key in ("strata", "strata_events", "chdb", "duckdb")
    ):
        lines += [
            (
                f"(1 run): the checked answer took over {meta['slow_seconds']:g} s, so it was timed once, "
                "cold, not warmed up and repeated."
            ),
            "",
        ]
    problems = [
        (r["name"], key, r[key])
        for r in results
        for key in ("strata", "strata_events", "chdb", "duckdb")
        if r[key]["status"] != "ok"
    ]
    if problems:
        lines += ["## Not timed", ""]
        seen = set()
        for name, key, entry in problems:
            text = entry["status"] + "".join(f"\n    - {d}" for d in entry.get("differences", []))
            if (name, text) in seen:
                continue
            seen.add((name, text))
            lines.append(f"- `{name}` / {key}: {text}")
        lines.append("")
    lines += ["## The queries", ""]
    lines += [f"- `{r['name']}`: {r['title']} ({r['rows']} rows)" for r in results]
    return "\n".join(lines) + "\n"


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores {model} ({platform.system()} {platform.release()})"


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    args = parse_args()
    ensure_virtualenv()
    sys.path.insert(0, str(HERE))
    from engines import ChdbEngine, DuckdbEngine, StrataEngine, fresh_work_dir, remove_work_dir
    from queries import QUERIES

    selected = QUERIES
    if args.queries:
        names = [name.strip() for name in args.queries.split(",") if name.strip()]
        known = {query.name: query for query in QUERIES}
        unknown = [name for name in names if name not in known]
        if unknown:
            sys.exit(f"unknown queries {unknown}; the set is: {', '.join(known)}")
        selected = [known[name] for name in names]

    binary = release_binary(args)
    ndjson = dataset(binary, args.events, args.seed, "ndjson")
    parquet = dataset(binary, args.events, args.seed, "parquet")

    work_dir = fresh_work_dir()
    strata = StrataEngine(binary, work_dir)
    chdb = duck = None
    try:
        log(f"starting strata serve on {strata.url}, data in {strata.data_dir}")
        strata.start()
        loads = {}
        log("loading Strata (HTTP ingest, 2 clients)")
        loads["strata"] = strata.load(ndjson, args.events)
        log("loading chdb")
        chdb = ChdbEngine(work_dir)
        loads["chdb"] = chdb.load(parquet, args.events)
        log("loading DuckDB")
        duck = DuckdbEngine(work_dir)
        loads["duckdb"] = duck.load(parquet, args.events)
        for name, load in loads.items():
            log(
                f"  {name}: {load.events_per_second:,.0f} events/s, "
                f"{load.bytes_on_disk / load.events:.1f} bytes/event; {load.note}"
            )
        load_before = os.getloadavg()[0]
        results = run_queries(selected, strata, chdb, duck, args.runs, args.slow_seconds)
        load_after = os.getloadavg()[0]
        totals = summary(results)
        meta = {
            # Anything else running while the engines are timed slows them, unequally.
            "load_average": f"{load_before:.2f} before the queries, {load_after:.2f} after",
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": commit(),
            "machine": machine(),
            "events": args.events,
            "seed": args.seed,
            "runs": args.runs,
            "arguments": " ".join(sys.argv[1:]),
            "binary": str(binary),
            "slow_seconds": args.slow_seconds,
        }
        load_figures = {
            name: {**load.__dict__, "events_per_second": load.events_per_second}
            for name, load in loads.items()
        }
        report = markdown(meta, load_figures, results, totals)
        print(report)
        args.output.mkdir(parents=True, exist_ok=True)
        (args.output / "last-run.md").write_text(report)
        (args.output / "last-run.json").write_text(
            json.dumps({"meta": meta, "load": load_figures, "queries": results, "summary": totals}, indent=2)
            + "\n"
        )
        log(f"wrote {args.output / 'last-run.md'} and last-run.json")
    finally:
        for engine in (chdb, duck):
            if engine is not None:
                engine.stop()
        if args.keep:
            log(f"strata serve keeps running on {strata.url} (pid {strata.process.pid}), data in {work_dir}")
        else:
            strata.stop()
            remove_work_dir(work_dir)


if __name__ == "__main__":
    main()
