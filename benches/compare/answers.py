"""Answers made comparable, and compared, before any time counts.

A time is only worth quoting for an answer that is right, so every engine's answer is checked
against the exact oracle first (queries.py says how each column is compared). The engines shape
their answers differently — Druid's JSON nests rows under `result` or `event` and names bucket
times in ISO-8601, SQL gives tuples and epoch milliseconds — so each answer is first brought to
one shape: a list of tuples in the query's column order, numbers as Python numbers, times as
epoch milliseconds, keys as text, sorted by their keys (SQL without ORDER BY, and Druid's groupBy,
promise no order).

A newest-N search is compared in its own way (`newest_differences`): its order is part of the
answer, and events sharing the cut-off time may be kept or not (search_queries.py, "Ties").
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import Counter
from datetime import datetime

from queries import Column, Query

# Doubles summed in another order differ in their last bits; a wrong sum differs by far more.
FLOAT_TOLERANCE = 1e-9


class AnswerShapeError(Exception):
    """An answer that does not have the shape its query asks for."""


def strata_rows(query: Query, answer: object) -> list[tuple]:
    """The rows of Strata's Druid answer, in the query's column order."""
    query_type = query.druid["queryType"]
    if not isinstance(answer, list):
        raise AnswerShapeError(f"a {query_type} answer should be a JSON array, got: {answer!r:.300}")
    try:
        if query_type == "timeseries":
            records = [dict(item["result"], timestamp=item["timestamp"]) for item in answer]
        elif query_type == "topN":
            records = [record for item in answer for record in item["result"]]
        elif query_type == "groupBy":
            # A groupBy by time (granularity other than `all`) gives each row's bucket beside it.
            records = [{"timestamp": item.get("timestamp"), **item["event"]} for item in answer]
        elif query_type == "scan":
            records = [
                event if isinstance(event, dict) else dict(zip(batch["columns"], event))
                for batch in answer
                for event in batch["events"]
            ]
        else:
            raise AnswerShapeError(f"query type {query_type} is not part of the query sets")
    except (KeyError, TypeError) as error:
        raise AnswerShapeError(f"not Druid's {query_type} shape ({error!r}): {answer!r:.300}") from error
    return [tuple(_field(record, column.name) for column in query.columns) for record in records]


def _field(record: dict, name: str) -> object:
    if name.endswith("]"):
        base, index = name[:-1].split("[")
        values = record.get(base)
        if not isinstance(values, list) or int(index) >= len(values):
            raise AnswerShapeError(
                f"field `{base}` should be an array of at least {int(index) + 1}: {record}"
            )
        return values[int(index)]
    if name not in record:
        raise AnswerShapeError(f"field `{name}` is missing from {record}")
    return record[name]


def normalize(query: Query, rows: list[tuple]) -> list[tuple]:
    """Rows in one shape: see the module docs."""
    normalized = [tuple(_value(column, value) for column, value in zip(query.columns, row)) for row in rows]
    keys = [i for i, column in enumerate(query.columns) if column.check in ("time", "key")]
    return sorted(normalized, key=lambda row: tuple((row[i] is None, row[i]) for i in keys))


def normalize_in_order(columns: tuple[Column, ...], rows: list) -> list[tuple]:
    """Rows in one shape, as `normalize`, but kept in the order given."""
    try:
        return [
            tuple(_value(column, value) for column, value in zip(columns, row, strict=True)) for row in rows
        ]
    except (TypeError, ValueError) as error:
        raise AnswerShapeError(f"rows should have {len(columns)} columns ({error}): {rows!r:.300}") from error


def newest_differences(time_index: int, limit: int, oracle: list[tuple], actual: list[tuple]) -> list[str]:
    """What is wrong with a newest-`limit` answer (normalized, in its order), given the oracle's
    rows: every match at or after the cut-off time, newest first. Empty if it is right."""
    problems = []
    wanted = min(limit, len(oracle))
    if len(actual) != wanted:
        problems.append(f"{len(actual)} rows where {wanted} are expected")
    times = [row[time_index] for row in actual]
    if any(newer < older for newer, older in zip(times, times[1:])):
        problems.append("the rows are not newest first")
    allowed = Counter(oracle)
    for row, extra in (Counter(actual) - allowed).items():
        problems.append(f"row {row} is not among the oracle's ({extra} too many)")
    if oracle:
        cut_off = oracle[min(limit, len(oracle)) - 1][time_index]
        missing = Counter(row for row in oracle if row[time_index] > cut_off) - Counter(actual)
        problems += [f"row {row} is missing" for row in missing]
    return problems


def _value(column: Column, value: object) -> object:
    if value is None:
        return None
    if column.check == "time":
        if isinstance(value, str):
            return int(datetime.fromisoformat(value).timestamp() * 1000)
        return int(value)
    if column.check == "key":
        return str(value)
    if column.check == "exact":
        number = float(value) if isinstance(value, str) else value
        if isinstance(number, float) and number.is_integer():
            return int(number)
        return number
    return float(value)


class Distributions:
    """The exact values each group of a query reads, sorted, to find the rank of a quantile."""

    def __init__(self, pairs: list[tuple[object, float]]):
        groups: dict[str, list[float]] = {}
        for key, value in pairs:
            groups.setdefault(str(key), []).append(value)
        self._sorted = {key: sorted(values) for key, values in groups.items()}

    def rank_range(self, key: str, value: float) -> tuple[float, float] | None:
        values = self._sorted.get(key)
        if not values:
            return None
        return bisect_left(values, value) / len(values), bisect_right(values, value) / len(values)


def differences(
    query: Query,
    expected: list[tuple],
    actual: list[tuple],
    distributions: Distributions | None,
    engine: str = "strata",
) -> list[str]:
    """What differs between the oracle's rows and an engine's (both normalized); empty if equal."""
    keys = [i for i, column in enumerate(query.columns) if column.check in ("time", "key")]
    by_key = {tuple(row[i] for i in keys): row for row in expected}
    problems = []
    if len(actual) != len(expected):
        problems.append(f"{len(actual)} rows where the oracle has {len(expected)}")
    for row in actual:
        key = tuple(row[i] for i in keys)
        wanted = by_key.get(key)
        if wanted is None:
            problems.append(f"row {row} has keys the oracle does not have")
            continue
        for i, column in enumerate(query.columns):
            problem = _column_difference(column, wanted[i], row[i], key, distributions, engine)
            if problem:
                problems.append(f"keys {key}, `{column.name}`: {problem}")
    return problems


def _column_difference(
    column: Column,
    wanted: object,
    got: object,
    key: tuple,
    distributions: Distributions | None,
    engine: str,
) -> str:
    if column.check in ("time", "key", "exact"):
        return "" if wanted == got else f"{got!r}, oracle {wanted!r}"
    if wanted is None or got is None:
        return "" if wanted is got else f"{got!r}, oracle {wanted!r}"
    if not math.isfinite(got):
        return f"{got!r} is not a finite number"
    if column.check == "float":
        close = abs(got - wanted) <= FLOAT_TOLERANCE * max(abs(got), abs(wanted), 1.0)
        return "" if close else f"{got!r}, oracle {wanted!r}"
    if column.check == "relative":
        error = abs(got - wanted) / max(abs(wanted), 1.0)
        tolerance = column.tolerance_for(engine)
        return "" if error <= tolerance else f"{got!r} is {error:.1%} off the exact {wanted!r}"
    if column.check == "rank":
        if distributions is None or len(key) != 1:
            return "a rank check needs the query's distribution, grouped by one key"
        ranks = distributions.rank_range(key[0], got)
        if ranks is None:
            return "the oracle's distribution has no such group"
        low, high = ranks
        if low - column.tolerance <= column.fraction <= high + column.tolerance:
            return ""
        return (
            f"{got!r} sits at rank {low:.4f}..{high:.4f}, more than {column.tolerance:.0%} "
            f"from {column.fraction} (the exact value there is {wanted!r})"
        )
    return f"unknown check `{column.check}`"
