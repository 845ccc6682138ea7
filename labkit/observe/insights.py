"""Logs Insights queries as DataFrames: StartQuery/GetQueryResults where the backend runs them,
otherwise evaluated here on FilterLogEvents results (and the output says so)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pandas as pd

from labkit.observe.logs import search_logs

MOTO_INSIGHTS_COMMANDS = {"fields", "sort", "limit"}  # what the emulator's Logs Insights runs


def insights(
    lab,
    groups: str | list[str],
    query: str,
    start: datetime | None = None,
    end: datetime | None = None,
    timeout: float = 120,
) -> pd.DataFrame:
    """A Logs Insights query as a DataFrame (one column per field). On AWS, and locally for the
    commands the emulator runs, through StartQuery/GetQueryResults; otherwise evaluated here on
    FilterLogEvents results, which `frame.attrs["note"]` (printed too) says."""
    groups = [groups] if isinstance(groups, str) else list(groups)
    end = end or datetime.now(timezone.utc) + timedelta(minutes=1)
    start = start or end - timedelta(hours=3)
    parts = [part.split(None, 1) + [""] for part in _split_pipes(query) if part.strip()]
    commands = {command.lower() for command, *_ in parts}
    fields = {
        f.strip()
        for command, rest, *_ in parts
        if command.lower() == "fields"
        for f in rest.split(",")
    }
    # The emulator's StartQuery knows the @ fields only, not fields discovered in JSON events.
    runs_remotely = commands <= MOTO_INSIGHTS_COMMANDS and all(f.startswith("@") for f in fields)
    if lab.backend == "aws" or runs_remotely:
        frame = _remote_query(lab, groups, query, start, end, timeout)
        frame.attrs["note"] = "Logs Insights (StartQuery/GetQueryResults)"
        return frame
    events = pd.concat(
        [search_logs(lab, g, since=start, until=end).assign(log=g) for g in groups],
        ignore_index=True,
    )
    frame = evaluate(query, events)
    beyond = sorted(commands - MOTO_INSIGHTS_COMMANDS) or ["fields found inside JSON events"]
    note = (
        f"Evaluated locally on FilterLogEvents results: the emulator's Logs Insights runs "
        f"only {', '.join(sorted(MOTO_INSIGHTS_COMMANDS))} over @ fields; this query uses "
        f"{', '.join(beyond)}."
    )
    frame.attrs["note"] = note
    print(note)
    return frame


def _remote_query(lab, groups, query, start, end, timeout) -> pd.DataFrame:
    logs = lab.client("logs")
    query_id = logs.start_query(
        logGroupNames=groups,
        queryString=query,
        startTime=int(start.timestamp()),
        endTime=int(end.timestamp()),
    )["queryId"]
    deadline = time.monotonic() + timeout
    while True:
        answer = logs.get_query_results(queryId=query_id)
        if answer["status"] in ("Complete", "Failed", "Cancelled", "Timeout"):
            break
        if time.monotonic() > deadline:
            logs.stop_query(queryId=query_id)
            raise TimeoutError(f"Logs Insights query {query_id} still running after {timeout} s")
        time.sleep(1)
    if answer["status"] != "Complete":
        raise RuntimeError(f"Logs Insights query {query_id} ended {answer['status']}")
    rows = [
        {f["field"]: f["value"] for f in row if f["field"] != "@ptr"} for row in answer["results"]
    ]
    return pd.DataFrame(rows)


def _split_pipes(query: str) -> list[str]:
    """Split on | outside quotes and /regex/."""
    parts, current, quote = [], "", None
    for char in query:
        if quote:
            quote = None if char == quote else quote
        elif char in "\"'/":
            quote = char
        elif char == "|":
            parts.append(current.strip())
            current = ""
            continue
        current += char
    parts.append(current.strip())
    return [p for p in parts if p]


def _flatten(value, prefix: str = "") -> dict:
    if isinstance(value, dict):
        out = {}
        for key, inner in value.items():
            out.update(_flatten(inner, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: value}


def _records(events: pd.DataFrame) -> list[dict]:
    records = []
    for event in events.itertuples():
        record = {
            "@timestamp": event.timestamp.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
            "@message": event.message,
            "@logStream": event.stream,
            "@log": getattr(event, "log", ""),
        }
        try:
            document = json.loads(event.message)
        except ValueError:
            document = None
        if isinstance(document, dict):
            record.update(_flatten(document))  # Insights discovers JSON fields as a.b.c
        records.append(record)
    return records


_AGGREGATE = re.compile(r"(count|sum|avg|min|max)\(\s*([^)]*)\)(?:\s+as\s+([\w.@-]+))?", re.I)


def evaluate(query: str, events: pd.DataFrame) -> pd.DataFrame:
    """Run the Insights commands fields, display, filter, stats (count/sum/avg/min/max ... by),
    sort and limit over events (timestamp, stream, message[, log])."""
    rows = sorted(_records(events), key=lambda r: r["@timestamp"], reverse=True)
    columns: list[str] | None = None
    for part in _split_pipes(query):
        command, _, rest = part.partition(" ")
        command, rest = command.lower(), rest.strip()
        if command in ("fields", "display"):
            columns = [c.strip() for c in rest.split(",") if c.strip()]
        elif command == "filter":
            test = _condition(rest)
            rows = [r for r in rows if test(r)]
        elif command == "stats":
            rows, columns = _stats(rest, rows)
        elif command == "sort":
            field, _, order = rest.partition(" ")
            rows.sort(
                key=lambda r: (r.get(field) is None, r.get(field)),
                reverse=order.strip().lower() != "asc",
            )
        elif command == "limit":
            rows = rows[: int(rest)]
        else:
            raise ValueError(
                f"the local Logs Insights evaluator does not know {command!r}; it "
                "knows fields, display, filter, stats, sort, limit"
            )
    columns = columns or ["@timestamp", "@message"]
    return pd.DataFrame([{c: r.get(c) for c in columns} for r in rows], columns=columns)


def _condition(text: str) -> Callable[[dict], bool]:
    for word, combine in ((" or ", any), (" and ", all)):
        pieces = re.split(word, text, flags=re.I)
        if len(pieces) > 1:
            tests = [_condition(p) for p in pieces]
            return lambda r, tests=tests, combine=combine: combine(t(r) for t in tests)
    text = text.strip().strip("()").strip()
    found = re.fullmatch(r"([\w.@-]+)\s*(not like|like|=~|!=|<=|>=|=|<|>)\s*(.+)", text, re.I)
    if not found:
        raise ValueError(f"cannot read the filter {text!r}")
    field, op, raw = found.group(1), found.group(2).lower(), found.group(3).strip()
    if op in ("like", "not like", "=~"):
        pattern = (
            re.compile(raw[1:-1])
            if raw.startswith("/")
            else re.compile(re.escape(raw.strip("\"'")))
        )
        positive = op != "not like"
        return lambda r: bool(pattern.search(str(r.get(field, "")))) == positive
    value = _literal(raw)
    ops = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        ">": lambda a, b: a > b,
        "<=": lambda a, b: a <= b,
        ">=": lambda a, b: a >= b,
    }

    def test(record):
        current = record.get(field)
        try:
            return current is not None and ops[op](current, value)
        except TypeError:
            return False

    return test


def _literal(raw: str):
    if raw[:1] in "\"'":
        return raw[1:-1]
    try:
        return float(raw) if "." in raw else int(raw)
    except ValueError:
        return raw


def _stats(text: str, rows: list[dict]) -> tuple[list[dict], list[str]]:
    parts = re.split(r"\s+by\s+", text, maxsplit=1, flags=re.I)
    body, by = parts[0], parts[1] if len(parts) > 1 else ""
    keys = [k.strip() for k in by.split(",") if k.strip()]
    aggregates = [
        (m.group(1).lower(), m.group(2).strip(), m.group(3) or m.group(0).split(" as ")[0])
        for m in _AGGREGATE.finditer(body)
    ]
    if not aggregates:
        raise ValueError(f"cannot read the stats {text!r}")
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(row.get(k) for k in keys), []).append(row)
    out = []
    for key, members in groups.items():
        result = dict(zip(keys, key, strict=True))
        for function, field, name in aggregates:
            if function == "count":
                result[name] = (
                    len(members)
                    if field in ("", "*")
                    else sum(1 for m in members if m.get(field) is not None)
                )
                continue
            values = [float(m[field]) for m in members if isinstance(m.get(field), (int, float))]
            if not values:
                result[name] = None
                continue
            result[name] = {"sum": sum, "min": min, "max": max, "avg": lambda v: sum(v) / len(v)}[
                function
            ](values)
        out.append(result)
    return out, keys + [name for _, _, name in aggregates]
