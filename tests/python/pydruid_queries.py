"""Druid native queries through pydruid, the Python client Druid's users use.

Usage: pydruid_queries.py SERVER_URL DATASOURCE

Runs a timeseries, a topN and a groupBy with pydruid's own query builders
(aggregators, filters, post-aggregators) against SERVER_URL/druid/v2 and
prints one JSON object to stdout: for each query, what pydruid sent
(`query`) and what it read back (`result`, pydruid's `Query.result`).

It checks nothing but that every call succeeded: tests/tests/pydruid.rs
started the server, sent the events and holds the oracle that the answers
are compared against, so the query parameters below are mirrored there.
A failed call raises, which prints pydruid's error (the server's answer and
the query) to stderr and exits non-zero.
"""

import json
import sys

# pydruid's client calls urllib.request and urllib.error after a bare
# `import urllib`, which leaves them unloaded unless something else imported
# them (druid-io/pydruid#228, #252); users import them as here.
import urllib.error  # noqa: F401
import urllib.request  # noqa: F401

from pydruid.client import PyDruid
from pydruid.utils.aggregators import count, doublemax, doublesum, longsum
from pydruid.utils.filters import Dimension, Filter
from pydruid.utils.postaggregator import Const, Field

INTERVAL = "2024-01-01/2024-01-05"


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: pydruid_queries.py SERVER_URL DATASOURCE")
    url, datasource = sys.argv[1], sys.argv[2]
    client = PyDruid(url, "druid/v2")

    timeseries = client.timeseries(
        datasource=datasource,
        granularity="day",
        intervals=INTERVAL,
        aggregations={
            "events": count("count"),
            "bytes": longsum("bytes"),
            "duration": doublesum("duration"),
            "slowest": doublemax("slowest"),
        },
        post_aggregations={
            "bytes_per_event": Field("bytes") / Field("events"),
            "duration_s": Field("duration") / Const(1000),
        },
    )

    top_users = client.topn(
        datasource=datasource,
        granularity="all",
        intervals=INTERVAL,
        dimension="user",
        metric="bytes",
        threshold=4,
        filter=Filter(type="in", dimension="service", values=["api", "web"]),
        aggregations={"events": count("count"), "bytes": longsum("bytes")},
    )

    groups = client.groupby(
        datasource=datasource,
        granularity="all",
        intervals=INTERVAL,
        dimensions=["service", "status"],
        filter=(Dimension("status") != 404) & ~(Dimension("user") == "u3"),
        aggregations={
            "events": count("count"),
            "bytes": longsum("bytes"),
            "duration": doublesum("duration"),
            "slowest": doublemax("slowest"),
        },
        limit_spec={
            "type": "default",
            "columns": [{"dimension": "events", "direction": "descending"}],
        },
    )

    answers = {
        name: {"query": query.query_dict, "result": query.result}
        for name, query in [
            ("timeseries", timeseries),
            ("topn", top_users),
            ("groupby", groups),
        ]
    }
    json.dump(answers, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
