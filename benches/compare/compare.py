#!/usr/bin/env python3
"""Strata beside ClickHouse (chdb), DuckDB and tantivy alone on the dashboard and search query sets.

    python3 benches/compare/compare.py                         # 10M events, both sets
    python3 benches/compare/compare.py --quick --suite search  # 1M events, the search set

It makes its own virtualenv with the pinned peers, generates the reference dataset (cached by
seed and size), builds and starts the release server, loads the same events into each engine,
checks every answer against an exact oracle, and only then times: one warm-up, then five rounds
(more for fast queries) with every engine answering once in each, the median. README.md beside this file explains the figures and the fairness rules.
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
    # The script that was started (this one, or bulk_load.py importing it).
    os.execv(str(python), [str(python), str(Path(sys.argv[0]).resolve()), *sys.argv[1:]])


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=10_000_000, help="events in the dataset (default 10M)")
    parser.add_argument("--quick", action="store_true", help="1M events, for a quick run")
    parser.add_argument("--seed", type=int, default=42, help="dataset seed (default 42, the published one)")
    parser.add_argument(
        "--suite",
        choices=("dashboard", "search", "all"),
        default="all",
        help="which query set to run (default: all); --queries picks names across both",
    )
    parser.add_argument("--queries", help="comma-separated query names to run (default: the suite's)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs after the warm-up (default 5)")
    parser.add_argument(
        "--slow-seconds",
        type=float,
        default=20.0,
        help="an answer slower than this is timed once, not warmed up and repeated (default 20)",
    )
    parser.add_argument(
        "--strata-load",
        choices=("bulk", "http"),
        default="bulk",
        help="load Strata with `strata load` from Parquet (default) or by HTTP ingest of the NDJSON",
    )
    parser.add_argument(
        "--memory", default="4GiB", help="`strata load --memory` for the bulk load (default 4GiB)"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="check every engine's answers once, time nothing, and exit non-zero on a difference "
        "(the test suite runs this at 100k events)",
    )
    parser.add_argument(
        "--tantivy-binary", type=Path, help="a tantivy_alone binary instead of building the release one"
    )
    parser.add_argument("--keep", action="store_true", help="leave the Strata server running at the end")
    parser.add_argument(
        "--binary", type=Path, help="a strata binary to use instead of building the release one"
    )
    parser.add_argument("--output", type=Path, default=HERE, help="where last-run.md and last-run.json go")
    args = parser.parse_args()
    if args.quick:
        args.events = 1_000_000
    if args.check:
        args.runs = 0
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


def tantivy_alone_binary(args: argparse.Namespace) -> Path:
    """The release build of benches/src/bin/tantivy_alone.rs, or `--tantivy-binary`."""
    if args.tantivy_binary:
        return args.tantivy_binary
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache" / "strata-target"))
    log(f"cargo build --release -p strata-benches --bin tantivy_alone (target {target})")
    subprocess.run(
        ["cargo", "build", "--release", "-p", "strata-benches", "--bin", "tantivy_alone"],
        cwd=REPO,
        env={**os.environ, "CARGO_TARGET_DIR": str(target)},
        check=True,
    )
    return target / "release" / "tantivy_alone"


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


# A round of a fast query is repeated until the query has been timed for about this long, up to
# MAX_ROUNDS rounds: five answers of a few milliseconds each are at the mercy of one hiccup.
TIMED_SECONDS_PER_QUERY = 1.0
MAX_ROUNDS = 25


def rounds_for(runs: int, round_seconds: float) -> int:
    """`runs` rounds, or more for a query whose round (every engine once) is fast."""
    if round_seconds <= 0:
        return max(runs, MAX_ROUNDS) if runs else 0
    return max(runs, min(MAX_ROUNDS, int(TIMED_SECONDS_PER_QUERY / round_seconds)))


def check_and_time(engines: dict, runs: int, slow: float) -> dict:
    """Asks each engine once and checks its answer (`engines` maps a name to `(ask, problems_of)`;
    `problems_of` lists what is wrong with an answer), then times the right answers: one warm-up
    each, then at least `runs` rounds in which every engine answers once, the order rotating from
    round to round (more rounds for a fast query, see `rounds_for`). Interleaved rounds make a
    machine that slows down or speeds up during a query slow or speed every engine alike, so the
    ratios hold still. An answer that took longer than `slow` seconds is not asked again: its one
    time is quoted, marked."""
    from answers import AnswerShapeError
    from engines import EngineError

    results, timed = {}, {}
    for name, (ask, problems_of) in engines.items():
        try:
            first, raw = ask()
            problems = problems_of(raw)
        except (EngineError, AnswerShapeError) as error:
            results[name] = {"status": f"failed: {error}"}
            continue
        if problems:
            results[name] = wrong_answer(problems)
        elif runs == 0:
            results[name] = {"status": "ok", "checked_only": True}
        elif first > slow:
            results[name] = {"status": "ok", "median_ms": first * 1000, "runs_ms": [first * 1000], "single_run": True}
        else:
            timed[name] = ask
    names = list(timed)
    warm_up = sum(timed[name]()[0] for name in names)
    times = {name: [] for name in names}
    for round_number in range(rounds_for(runs, warm_up) if names else 0):
        turn = round_number % len(names)
        for name in names[turn:] + names[:turn]:
            times[name].append(timed[name]()[0])
    for name in names:
        results[name] = {
            "status": "ok",
            "median_ms": statistics.median(times[name]) * 1000,
            "runs_ms": [t * 1000 for t in times[name]],
        }
    return results


def check_failures(results: list[dict], search: dict | None) -> list[str]:
    """Every engine's answer that was not right, as `query / engine: what`."""
    failures = []
    for result in results + (search["queries"] if search else []):
        for engine, entry in result.items():
            if not isinstance(entry, dict) or "status" not in entry:
                continue
            status = entry["status"]
            if status == "ok" or status.startswith("not asked"):
                continue
            details = "; ".join(entry.get("differences", []))
            failures.append(f"{result['name']} / {engine}: {status}{': ' + details if details else ''}")
    return failures


def wrong_answer(problems: list[str]) -> dict:
    shown = problems[:5] + ([f"... and {len(problems) - 5} more"] if len(problems) > 5 else [])
    return {"status": "wrong answer", "differences": shown}


def against_oracle(engine_name: str, query, oracle, distributions):
    """The check of a dashboard answer: equal to the oracle, as queries.py says per column."""
    from answers import differences, normalize, strata_rows

    def problems_of(raw) -> list[str]:
        rows = strata_rows(query, raw) if engine_name == "strata" else raw
        return differences(query, oracle, normalize(query, rows), distributions, engine_name)

    return problems_of


def log_entries(result: dict, keys: tuple[str, ...]) -> None:
    for key in keys:
        entry = result[key]
        if entry["status"] != "ok":
            shown = entry["status"]
        elif entry.get("checked_only"):
            shown = "right answer"
        else:
            shown = f"{entry['median_ms']:.2f} ms"
        log(f"  {key}: {shown}")
        for difference in entry.get("differences", []):
            log(f"    {difference}")


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
        strata_check = against_oracle("strata", query, oracle, distributions)
        engines = {"strata": (partial(strata.answer, query, query.druid), strata_check)}
        if query.rollup_answers:
            variant = events_table_variant(query.druid)
            engines["strata_events"] = (partial(strata.answer, query, variant), strata_check)
        engines["chdb"] = (partial(chdb.answer, query), against_oracle("chdb", query, oracle, distributions))
        engines["duckdb"] = (partial(duck.answer, query), against_oracle("duckdb", query, oracle, distributions))
        result.update(check_and_time(engines, runs, slow))
        result["strata"]["table"] = native_table
        if not query.rollup_answers:
            result["strata_events"] = dict(result["strata"])
        result["strata_events"]["table"] = "events"
        log_entries(result, ("strata", "strata_events", "chdb", "duckdb"))
        results.append(result)
    return results


def run_search(newest, aggregations, strata, chdb, duck, tantivy, runs: int, slow: float) -> list[dict]:
    """The search set (search_queries.py): each newest-N search checked against the oracle and
    timed on Strata, tantivy alone (its answer and times come from its own run) and chdb; each
    search aggregation on Strata, chdb and DuckDB."""
    from answers import (
        Distributions,
        newest_differences,
        normalize,
        normalize_in_order,
        strata_rows,
    )

    results = []
    for query in newest:
        log(f"search {query.name}: {query.title}")
        oracle = normalize_in_order(query.columns, duck.rows(query.oracle_sql()))
        matches = duck.rows(f"SELECT count(*) FROM access WHERE {query.oracle_match}")[0][0]
        time_index = next(i for i, column in enumerate(query.columns) if column.check == "time")

        def problems_of(rows, oracle=oracle, query=query, time_index=time_index) -> list[str]:
            return newest_differences(time_index, query.limit, oracle, normalize_in_order(query.columns, rows))

        result = {"name": query.name, "title": query.title, "kind": "newest", "matches": matches}
        strata_check = lambda raw, query=query, check=problems_of: check(strata_rows(query, raw))  # noqa: E731
        engines = {
            "strata": (partial(strata.answer, query, query.druid), strata_check),
            "chdb": (partial(chdb.answer, query), problems_of),
        }
        result.update(check_and_time(engines, runs, slow))
        result["duckdb"] = {"status": "not asked (no text index: a full scan)"}
        result["tantivy"] = tantivy_entry(tantivy, query.name, problems_of)
        log_entries(result, ("strata", "tantivy", "chdb"))
        results.append(result)
    for query in aggregations:
        log(f"search {query.name}: {query.title}")
        oracle = normalize(query, duck.rows(query.oracle_sql()))
        distributions = Distributions(duck.rows(query.distribution)) if query.distribution else None
        result = {"name": query.name, "title": query.title, "kind": "aggregation", "rows": len(oracle)}
        engines = {
            "strata": (partial(strata.answer, query, query.druid), against_oracle("strata", query, oracle, distributions)),
            "chdb": (partial(chdb.answer, query), against_oracle("chdb", query, oracle, distributions)),
            "duckdb": (partial(duck.answer, query), against_oracle("duckdb", query, oracle, distributions)),
        }
        result.update(check_and_time(engines, runs, slow))
        result["tantivy"] = {"status": "not asked (no columns to aggregate)"}
        log_entries(result, ("strata", "chdb", "duckdb"))
        results.append(result)
    return results


def run_tantivy_alone(binary: Path, work_dir: Path, parquet: Path, newest, runs: int):
    """Indexes the messages with tantivy alone and runs the newest-N searches there; None (and
    each search reported failed) if it could not."""
    from engines import EngineError, TantivyAlone

    tantivy = TantivyAlone(binary, work_dir)
    log("tantivy alone: indexing the messages (2 threads), then the searches")
    try:
        tantivy.run(parquet, {query.name: query.tantivy for query in newest}, newest[0].limit, runs)
    except EngineError as error:
        log(f"  {error}")
        return None
    log(f"  {tantivy.documents:,} documents in {tantivy.index_seconds:.1f} s, {tantivy.segments} segments")
    return tantivy


def text_index_bytes(strata, chdb, tantivy) -> dict:
    """Bytes of each engine's full-text index (see README.md, "Search")."""
    figures = {
        "strata": {
            "bytes": strata.text_index_bytes(),
            "what": "the `text/` directories of the segments (tantivy postings and positions; the "
            "messages are kept once, in the events table's column)",
        },
        "chdb": {
            "bytes": chdb.text_index_bytes(),
            "what": "the `text` index on `message` (`system.data_skipping_indices`, compressed)",
        },
    }
    if tantivy is not None:
        figures["tantivy alone"] = {
            "bytes": tantivy.index_bytes,
            "what": f"its index directory: postings, positions, the `timestamp` fast field and the "
            f"zstd store of the messages ({tantivy.segments} segments, indexed in "
            f"{tantivy.index_seconds:.1f} s)",
        }
    return figures


def tantivy_entry(tantivy, name: str, problems_of) -> dict:
    """tantivy alone's answer to one search, checked, with the times of its own run."""
    from answers import AnswerShapeError

    if tantivy is None:
        return {"status": "failed: tantivy_alone did not run"}
    search = tantivy.searches.get(name)
    if search is None:
        return {"status": "failed: tantivy_alone did not answer it"}
    try:
        problems = problems_of(search.rows)
    except AnswerShapeError as error:
        return {"status": f"failed: {error}"}
    if problems:
        return wrong_answer(problems)
    times = [seconds * 1000 for seconds in search.runs_seconds]
    if not times:
        return {"status": "ok", "checked_only": True}
    return {"status": "ok", "median_ms": statistics.median(times), "runs_ms": times}


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
    if entry["status"].startswith("not asked"):
        return "—"
    return "failed"


def ratio_to(result: dict, peer_key: str) -> float | None:
    """Strata's median over one peer's, when both answered right."""
    strata, peer = result["strata"], result[peer_key]
    if strata["status"] != "ok" or peer["status"] != "ok":
        return None
    return strata["median_ms"] / peer["median_ms"]


# Issue 5's targets for Strata's search, as ratios of its median to the peers'.
SEARCH_TARGETS = {
    "newest": {"tantivy": 1.0, "chdb": 0.2},
    "aggregation": {"faster": 0.3},
}


def search_ratios(result: dict) -> dict:
    if result["kind"] == "newest":
        return {"tantivy": ratio_to(result, "tantivy"), "chdb": ratio_to(result, "chdb"), "faster": None}
    return {"tantivy": None, "chdb": ratio_to(result, "chdb"), "faster": ratio(result, "strata")}


def ratio_cell(result: dict, key: str) -> str:
    value = search_ratios(result)[key]
    target = SEARCH_TARGETS[result["kind"]].get(key)
    if value is None:
        return "—"
    shown = f"{value:.3f}" if value < 10 else f"{value:,.0f}"
    if target is None:
        return shown
    return f"{shown} ({'meets' if value <= target else 'misses'} ≤ {target:g})"


def search_markdown(search: dict, events: int) -> list[str]:
    lines = [
        "## Search (median ms)",
        "",
        "Strata over HTTP (Druid `scan` / `groupBy` with a `fulltext` filter); tantivy alone in "
        "process (`benches/src/bin/tantivy_alone.rs`); chdb with its `text` index; DuckDB for the "
        "aggregation only. Ratios are Strata's median over the peer's, with issue 5's target.",
        "",
        "| query | matches | Strata | tantivy alone | chdb | DuckDB | Strata / tantivy | Strata / chdb | "
        "Strata / faster of chdb, DuckDB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in search["queries"]:
        matches = f"{r['matches']:,}" if r["kind"] == "newest" else f"{r['rows']:,} groups"
        lines.append(
            f"| {r['name']} | {matches} | {cell(r['strata'])} | {cell(r['tantivy'])} | {cell(r['chdb'])} | "
            f"{cell(r['duckdb'])} | {ratio_cell(r, 'tantivy')} | {ratio_cell(r, 'chdb')} | "
            f"{ratio_cell(r, 'faster')} |"
        )
    lines += [
        "",
        "### Full-text index bytes",
        "",
        "| engine | bytes | bytes/event | what is counted |",
        "|---|---:|---:|---|",
    ]
    for name, entry in search["index_bytes"].items():
        lines.append(
            f"| {name} | {entry['bytes']:,} | {entry['bytes'] / events:.1f} | {entry['what']} |"
        )
    lines.append("")
    problems = [
        (r["name"], key, r[key])
        for r in search["queries"]
        for key in ("strata", "tantivy", "chdb", "duckdb")
        if r[key]["status"] not in ("ok",) and not r[key]["status"].startswith("not asked")
    ]
    if problems:
        lines += ["### Search answers not timed", ""]
        for name, key, entry in problems:
            text = entry["status"] + "".join(f"\n    - {d}" for d in entry.get("differences", []))
            lines.append(f"- `{name}` / {key}: {text}")
        lines.append("")
    if any(r[key].get("single_run") for r in search["queries"] for key in ("strata", "chdb", "duckdb")):
        lines += ["(1 run): the checked answer took over the `--slow-seconds`, so it was timed once, cold.", ""]
    lines += ["### The search queries", ""]
    lines += [f"- `{r['name']}`: {r['title']}" for r in search["queries"]]
    return lines


def ratio_chart(meta: dict, results: list[dict], search: dict | None, path: Path) -> None:
    """A PNG of Strata's time over each peer's, per query, on a log scale: bars left of 1 are
    queries Strata answers faster."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bars: list[tuple[str, str, float]] = []
    for r in results:
        bars.append((r["name"], "Strata / faster of chdb, DuckDB", ratio(r, "strata")))
        if r["strata"]["table"] == "rollup":
            bars.append((r["name"], "Strata events table / faster peer", ratio(r, "strata_events")))
    for r in search["queries"] if search else []:
        ratios = search_ratios(r)
        for key, label in (("tantivy", "Strata / tantivy alone"), ("chdb", "Strata / chdb"), ("faster", "Strata / faster of chdb, DuckDB")):
            if ratios.get(key) is not None:
                bars.append((r["name"], label, ratios[key]))
    bars = [(name, label, value) for name, label, value in bars if value is not None and value > 0]
    if not bars:
        return
    labels = sorted({label for _, label, _ in bars})
    colors = dict(zip(labels, plt.get_cmap("tab10").colors))
    figure_, axes = plt.subplots(figsize=(9, 0.32 * len(bars) + 1.6))
    names = [f"{name}" for name, _, _ in bars]
    axes.barh(range(len(bars)), [value for _, _, value in bars], color=[colors[label] for _, label, _ in bars])
    axes.set_yticks(range(len(bars)), names, fontsize=8)
    axes.invert_yaxis()
    axes.set_xscale("log")
    axes.axvline(1.0, color="black", linewidth=0.8)
    axes.set_xlabel("Strata's median time / the peer's (log scale; < 1: Strata is faster)")
    axes.set_title(f"Strata vs peers, {meta['events']:,} events, {meta['date']}, commit {meta['commit']}", fontsize=9)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors[label]) for label in labels]
    axes.legend(handles, labels, fontsize=7, loc="lower right")
    figure_.tight_layout()
    figure_.savefig(path, dpi=110)
    plt.close(figure_)


def figure(value: float | None, digits: int = 2, suffix: str = "") -> str:
    return "—" if value is None else f"{value:.{digits}f}{suffix}"


def markdown(meta: dict, loads: dict, results: list[dict], totals: dict, search: dict | None) -> str:
    sets = " and ".join(name for name, present in (("dashboard", results), ("search", search)) if present)
    sets = sets[:1].upper() + sets[1:]
    peers = "chdb vs DuckDB" + (" vs tantivy alone" if search else "")
    lines = [
        f"# {sets} query set: Strata vs {peers}, {meta['events']:,} events",
        "",
        f"{meta['date']}, commit `{meta['commit']}` (binary `{meta['binary']}`), {meta['machine']}; "
        f"seed {meta['seed']}; "
        f"one warm-up then {meta['runs']} interleaved rounds (every engine once a round; more, up to {MAX_ROUNDS}, while a round takes under {TIMED_SECONDS_PER_QUERY / max(meta['runs'], 1):.1f} s), the median; 2 threads per engine. "
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
    lines.append("")
    if results:
        lines += dashboard_markdown(meta, results, totals)
    if search:
        lines += search_markdown(search, meta["events"])
    return "\n".join(lines) + "\n"


def dashboard_markdown(meta: dict, results: list[dict], totals: dict) -> list[str]:
    lines = [
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
    lines.append("")
    return lines


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
    from search_queries import NEWEST_QUERIES, SEARCH_AGGREGATIONS

    dashboard = QUERIES if args.suite in ("dashboard", "all") else []
    newest = NEWEST_QUERIES if args.suite in ("search", "all") else []
    aggregations = SEARCH_AGGREGATIONS if args.suite in ("search", "all") else []
    if args.queries:
        names = [name.strip() for name in args.queries.split(",") if name.strip()]
        known = [query.name for query in QUERIES + NEWEST_QUERIES + SEARCH_AGGREGATIONS]
        unknown = [name for name in names if name not in known]
        if unknown:
            sys.exit(f"unknown queries {unknown}; the sets are: {', '.join(known)}")
        dashboard = [query for query in QUERIES if query.name in names]
        newest = [query for query in NEWEST_QUERIES if query.name in names]
        aggregations = [query for query in SEARCH_AGGREGATIONS if query.name in names]
    searching = bool(newest or aggregations)

    binary = release_binary(args)
    ndjson = dataset(binary, args.events, args.seed, "ndjson")
    parquet = dataset(binary, args.events, args.seed, "parquet")
    tantivy_binary = tantivy_alone_binary(args) if newest else None

    work_dir = fresh_work_dir()
    strata = StrataEngine(binary, work_dir)
    chdb = duck = tantivy = None
    try:
        loads = {}
        if args.strata_load == "bulk":
            log(f"loading Strata (strata load of {parquet.name})")
            loaded = strata.bulk_load(parquet, args.events, args.memory)
            log(f"starting strata serve on {strata.url}, data in {strata.data_dir}")
            strata.start()
            loads["strata"] = strata.compacted(loaded)
        else:
            log(f"starting strata serve on {strata.url}, data in {strata.data_dir}")
            strata.start()
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
        results = run_queries(dashboard, strata, chdb, duck, args.runs, args.slow_seconds)
        search = None
        if searching:
            tantivy = run_tantivy_alone(tantivy_binary, work_dir, parquet, newest, args.runs) if newest else None
            search = {
                "queries": run_search(
                    newest, aggregations, strata, chdb, duck, tantivy, args.runs, args.slow_seconds
                ),
                "index_bytes": text_index_bytes(strata, chdb, tantivy),
            }
        load_after = os.getloadavg()[0]
        if args.check:
            failures = check_failures(results, search)
            for failure in failures:
                log(f"DIFFERENT: {failure}")
            log(f"checked {len(results) + len(search['queries'] if search else [])} queries on every engine: "
                + ("all answers agree" if not failures else f"{len(failures)} answers differ"))
            if failures:
                sys.exit(1)
            return
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
        report = markdown(meta, load_figures, results, totals, search)
        print(report)
        args.output.mkdir(parents=True, exist_ok=True)
        (args.output / "last-run.md").write_text(report)
        (args.output / "last-run.json").write_text(
            json.dumps(
                {"meta": meta, "load": load_figures, "queries": results, "summary": totals, "search": search},
                indent=2,
            )
            + "\n"
        )
        ratio_chart(meta, results, search, args.output / "ratios.png")
        log(f"wrote {args.output / 'last-run.md'}, last-run.json and ratios.png")
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
