"""The search query set: full-text questions asked of Strata, tantivy alone, ClickHouse and DuckDB.

Issue 5 (full-text search) asks four things of the reference dataset's `message` text
(`"{method} {path} -> {status} in {duration_ms}ms user={user_id} w.. w.. w.. w.."`):

- `needle_term`: the newest 100 events whose message holds the term `needle7f3a` (7 events in
  the whole dataset: a needle in a haystack);
- `phrase_kernel_panic`: the newest 100 holding the phrase "kernel panic" (the same 7);
- `common_word`: the newest 100 holding `w0`, the most frequent word of the generator's Zipf
  vocabulary (rank 1 of `w0`..`w49999` at s = 1.05, in about a third of the messages): a term
  whose postings are long, where "newest first" has to avoid reading them all;
- `common_word_5xx_by_service_hour`: `w0` AND `status >= 500`, counted by service and hour over
  the week: search and aggregation in one question.

Terms are what Strata's `default` analyzer makes of a text: split on every non-alphanumeric
character, lowercased (`storage/src/text_index/analyzer.rs`). Each engine is asked with the
functions its own index serves:

- Strata: Druid's native `scan` with a `fulltext` filter on `message`, `order: descending`,
  `limit: 100`; the aggregation as a `groupBy` by hour and `service` with the `fulltext` filter
  AND a numeric `bound` on `status`.
- tantivy alone (`benches/src/bin/tantivy_alone.rs`): the same query text in tantivy's query
  syntax, `TopDocs` ordered by the `timestamp` fast field.
- ClickHouse: `hasToken` (one term) and `hasPhrase` (terms in order, adjacent), which its
  `text` index (`splitByNonAlpha`) serves; `ORDER BY timestamp DESC LIMIT 100`. The index
  does not lowercase: the searched terms and the text they are found in are lowercase in
  this dataset, so the answers are the same as a lowercasing analyzer's.
- DuckDB (the aggregation only: it has no text index, and a newest-100 search there is a full
  scan): a case-insensitive regular expression with non-alphanumeric boundaries, after an
  `ILIKE` that skips most rows cheaply.

The oracle is exact SQL on DuckDB, written independently of the timed formulations: each
message split into its terms (`string_split_regex` on non-alphanumerics, lowercased) and a term
found with `list_contains`; a phrase is its terms with only non-alphanumerics between them, in
the lowercased message (`regexp_matches`).

**Ties.** Timestamps have millisecond resolution, so two matching events may share the time at
which the 100 newest are cut off, and "newest 100" may then keep either. The oracle returns
every matching row at or after the cut-off time; an answer is right when it has the expected
number of rows, newest first, each one of the oracle's, and holds every oracle row strictly
newer than the cut-off (answers.py, `newest_differences`).
"""

from __future__ import annotations

from dataclasses import dataclass

from queries import WEEK, Column, Query, _ch_interval, _druid_interval, _duck_interval

NEWEST_LIMIT = 100
NEEDLE_TOKEN = "needle7f3a"
# Rank 1 of the message vocabulary (tools/src/dataset/generator.rs: `w{rank - 1}`, Zipf s=1.05).
COMMON_WORD = "w0"
# What a term is, as Strata's default analyzer cuts a text: maximal runs of alphanumerics.
_NOT_ALPHANUMERIC = "[^0-9a-z]+"


@dataclass(frozen=True)
class NewestQuery:
    """The newest `limit` events matching a full-text query, asked of every search engine.

    `druid` is Strata's scan, `tantivy` the query in tantivy's syntax, `chdb` ClickHouse SQL and
    `oracle_match` a DuckDB predicate on `message` that is the exact answer (see the module docs).
    Every engine returns `columns`, newest first.
    """

    name: str
    title: str
    druid: dict
    tantivy: str
    chdb: str
    oracle_match: str
    columns: tuple[Column, ...]
    limit: int = NEWEST_LIMIT

    def oracle_sql(self) -> str:
        """Every matching row at or after the time of the `limit`-th newest (ties kept)."""
        return f"""
            WITH matching AS (
                SELECT timestamp, message FROM access
                WHERE {_duck_interval(WEEK)} AND {self.oracle_match}),
            cut AS (
                SELECT min(timestamp) AS cut_at FROM (
                    SELECT timestamp FROM matching ORDER BY timestamp DESC LIMIT {self.limit}))
            SELECT epoch_ms(timestamp), message FROM matching
            WHERE timestamp >= (SELECT cut_at FROM cut)
            ORDER BY timestamp DESC"""


def _oracle_has_term(term: str) -> str:
    return f"list_contains(string_split_regex(lower(message), '{_NOT_ALPHANUMERIC}'), '{term}')"


def _oracle_has_phrase(first: str, second: str) -> str:
    """Two consecutive terms: only non-alphanumerics between them, none around them."""
    return (
        f"regexp_matches(lower(message), "
        f"'(^|{_NOT_ALPHANUMERIC[:-1]}){first}{_NOT_ALPHANUMERIC}{second}($|{_NOT_ALPHANUMERIC[:-1]})')"
    )


def _newest(name: str, title: str, fulltext: str, tantivy: str, chdb_match: str, oracle_match: str):
    return NewestQuery(
        name=name,
        title=title,
        druid={
            "queryType": "scan",
            "dataSource": "access",
            "intervals": _druid_interval(WEEK),
            "filter": {"type": "fulltext", "query": fulltext, "fields": ["message"]},
            "columns": ["__time", "message"],
            "order": "descending",
            "limit": NEWEST_LIMIT,
            "resultFormat": "compactedList",
        },
        tantivy=tantivy,
        chdb=f"""
            SELECT toUnixTimestamp64Milli(timestamp), message FROM access
            WHERE {_ch_interval(WEEK)} AND {chdb_match}
            ORDER BY timestamp DESC LIMIT {NEWEST_LIMIT}""",
        oracle_match=oracle_match,
        columns=(Column("__time", "time"), Column("message", "key")),
    )


def _duck_has_term(term: str) -> str:
    """The fastest right DuckDB test found for one term: a case-insensitive substring test first
    (cheap, and true for every row holding the term), then the term between non-alphanumerics.
    Measured against the regular expression alone, a `contains(lower(message), ...)` first, and
    splitting every message into its terms (`string_split_regex` + `list_contains`, 3-4x slower)."""
    return (
        f"message ILIKE '%{term}%' AND "
        f"regexp_matches(message, '(^|[^0-9A-Za-z]){term}($|[^0-9A-Za-z])', 'i')"
    )


def _search_set() -> tuple[list[NewestQuery], list[Query]]:
    newest = [
        _newest(
            "needle_term",
            f"the newest {NEWEST_LIMIT} events holding the rare term `{NEEDLE_TOKEN}`",
            fulltext=NEEDLE_TOKEN,
            tantivy=NEEDLE_TOKEN,
            chdb_match=f"hasToken(message, '{NEEDLE_TOKEN}')",
            oracle_match=_oracle_has_term(NEEDLE_TOKEN),
        ),
        _newest(
            "phrase_kernel_panic",
            f'the newest {NEWEST_LIMIT} events holding the phrase "kernel panic"',
            fulltext='"kernel panic"',
            tantivy='"kernel panic"',
            chdb_match="hasPhrase(message, 'kernel panic')",
            oracle_match=_oracle_has_phrase("kernel", "panic"),
        ),
        _newest(
            "common_word",
            f"the newest {NEWEST_LIMIT} events holding `{COMMON_WORD}`, the most frequent word",
            fulltext=COMMON_WORD,
            tantivy=COMMON_WORD,
            chdb_match=f"hasToken(message, '{COMMON_WORD}')",
            oracle_match=_oracle_has_term(COMMON_WORD),
        ),
    ]
    aggregations = [
        Query(
            name="common_word_5xx_by_service_hour",
            title=f"events holding `{COMMON_WORD}` with status >= 500, by service and hour over the week",
            druid={
                "queryType": "groupBy",
                "dataSource": "access",
                "intervals": _druid_interval(WEEK),
                "granularity": "hour",
                "dimensions": ["service"],
                "filter": {
                    "type": "and",
                    "fields": [
                        {"type": "fulltext", "query": COMMON_WORD, "fields": ["message"]},
                        {"type": "bound", "dimension": "status", "lower": "500", "ordering": "numeric"},
                    ],
                },
                "aggregations": [{"type": "count", "name": "requests"}],
            },
            chdb=f"""
                SELECT toUnixTimestamp(toStartOfHour(timestamp)) * 1000 AS t, service, count()
                FROM access
                WHERE {_ch_interval(WEEK)} AND hasToken(message, '{COMMON_WORD}') AND status >= 500
                GROUP BY t, service""",
            duckdb=f"""
                SELECT epoch_ms(date_trunc('hour', timestamp)) AS t, service, count(*)
                FROM access
                WHERE {_duck_interval(WEEK)} AND status >= 500 AND {_duck_has_term(COMMON_WORD)}
                GROUP BY t, service""",
            oracle=f"""
                SELECT epoch_ms(date_trunc('hour', timestamp)) AS t, service, count(*)
                FROM access
                WHERE {_duck_interval(WEEK)} AND status >= 500 AND {_oracle_has_term(COMMON_WORD)}
                GROUP BY t, service""",
            columns=(Column("timestamp", "time"), Column("service", "key"), Column("requests", "exact")),
            # A full-text filter needs each event's own text: only the events table has it.
            rollup_answers=False,
        )
    ]
    return newest, aggregations


NEWEST_QUERIES, SEARCH_AGGREGATIONS = _search_set()
SEARCH_QUERY_NAMES = [query.name for query in NEWEST_QUERIES + SEARCH_AGGREGATIONS]
