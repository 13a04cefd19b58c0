#!/usr/bin/env python3
"""How far two runs of compare.py are from each other: every engine's median per query, and every
ratio the harness reports, side by side with the change, and how many are within 10 %.

    python3 benches/compare/compare.py --output /tmp/run1
    python3 benches/compare/compare.py --output /tmp/run2
    python3 benches/compare/repeatability.py /tmp/run1/last-run.json /tmp/run2/last-run.json
"""

from __future__ import annotations

import argparse
import json

ENGINES = ("strata", "strata_events", "chdb", "duckdb", "tantivy")


def medians(run: dict) -> dict[tuple[str, str], float]:
    out = {}
    for query in run["queries"] + run.get("search", {}).get("queries", []):
        for engine in ENGINES:
            entry = query.get(engine, {})
            # A query the events table answers natively repeats Strata's own figure.
            if engine == "strata_events" and query["strata"].get("table") == "events":
                continue
            if "median_ms" in entry:
                out[(query["name"], engine)] = entry["median_ms"]
    return out


def ratios(run: dict) -> dict[str, float]:
    out = {}
    for query in run["queries"]:
        peers = [query[e]["median_ms"] for e in ("chdb", "duckdb") if "median_ms" in query.get(e, {})]
        if peers and "median_ms" in query["strata"]:
            out[f"{query['name']} / faster peer"] = query["strata"]["median_ms"] / min(peers)
    for query in run.get("search", {}).get("queries", []):
        for peer in ("tantivy", "chdb", "duckdb"):
            if "median_ms" in query.get(peer, {}) and "median_ms" in query["strata"]:
                out[f"{query['name']} / {peer}"] = query["strata"]["median_ms"] / query[peer]["median_ms"]
    return out


def table(title: str, first: dict, second: dict) -> None:
    keys = [key for key in first if key in second]
    print(f"| {title} | run 1 | run 2 | change |\n|---|---:|---:|---:|")
    within = 0
    for key in keys:
        change = (second[key] - first[key]) / first[key] * 100
        within += abs(change) <= 10
        name = " · ".join(key) if isinstance(key, tuple) else key
        print(f"| {name} | {first[key]:.3f} | {second[key]:.3f} | {change:+.1f}% |")
    print(f"\n{within} of {len(keys)} within 10 %\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("first", help="last-run.json of the first run")
    parser.add_argument("second", help="last-run.json of the second run")
    args = parser.parse_args()
    with open(args.first) as file:
        first = json.load(file)
    with open(args.second) as file:
        second = json.load(file)
    table("median ms (query · engine)", medians(first), medians(second))
    table("ratio", ratios(first), ratios(second))


if __name__ == "__main__":
    main()
