"""CloudWatch Logs filter patterns as AWS reads them: metric filters that really apply (every log
event written to a group, through PutLogEvents, EventBridge targets or the engines, is matched and
matches become datapoints in moto's CloudWatch), and FilterLogEvents with the same syntax."""

from __future__ import annotations

import fnmatch
import functools
import json
import logging
import re
from datetime import datetime, timezone
from typing import Any

log = logging.getLogger("labkit.emulator.metric_filters")
_warned: set[str] = set()


def install() -> None:
    """Wrap moto's LogsBackend.put_log_events once, so every writer's events pass the filters.
    moto stores metric filters but never applies them."""
    from moto.logs.models import LogsBackend

    original = LogsBackend.put_log_events
    if getattr(original, "labkit_metric_filters", False):
        return

    @functools.wraps(original)
    def put_log_events(self, log_group_name, log_stream_name, log_events, *args, **kwargs):
        result = original(self, log_group_name, log_stream_name, log_events, *args, **kwargs)
        try:
            apply_filters(self, log_group_name, log_events)
        except Exception:  # a broken filter must never fail the write that triggered it
            log.exception("metric filters of %s failed", log_group_name)
        return result

    put_log_events.labkit_metric_filters = True
    LogsBackend.put_log_events = put_log_events
    _install_filter_log_events()
    _install_put_metric_filter()


def _install_put_metric_filter() -> None:
    """PutMetricFilter with the name of an existing filter of the group replaces that filter, as
    on AWS; moto appends a second one, which would then count every event twice."""
    from moto.logs.metric_filters import MetricFilters

    original = MetricFilters.add_filter
    if getattr(original, "labkit_replaces", False):
        return

    @functools.wraps(original)
    def add_filter(self, filter_name, filter_pattern, log_group_name, metric_transformations):
        self.metric_filters = [
            f for f in self.metric_filters
            if not (f["filterName"] == filter_name and f["logGroupName"] == log_group_name)
        ]
        return original(self, filter_name, filter_pattern, log_group_name, metric_transformations)

    add_filter.labkit_replaces = True
    MetricFilters.add_filter = add_filter


def _install_filter_log_events() -> None:
    """FilterLogEvents with the same pattern syntax: moto knows only plain terms and lets every
    event through for JSON, space-delimited, `?term` and `-term` patterns."""
    from moto.logs.exceptions import InvalidParameterException
    from moto.logs.models import LogStream

    def filter_log_events(self, start_time, end_time, filter_pattern):
        try:
            matcher = compile_pattern(filter_pattern or "")
        except PatternError as exc:
            raise InvalidParameterException(f"Invalid filter pattern: {exc}") from None
        found = []
        for event in sorted(self.events, key=lambda e: e.timestamp):
            if start_time and event.timestamp < start_time:
                continue
            if end_time and event.timestamp > end_time:
                continue
            if matcher(event.message) is not None:
                found.append({**event.to_filter_dict(), "logStreamName": self.log_stream_name})
        return found

    LogStream.filter_log_events = filter_log_events


def apply_filters(backend, group: str, events: list[dict]) -> int:
    """Put the metric datapoints that `events` produce in `group`'s filters; return how many."""
    filters = backend.filters.get_matching_filters(log_group_name=group)
    if not filters or not events:
        return 0
    from moto.cloudwatch.models import cloudwatch_backends

    cloudwatch = cloudwatch_backends[backend.account_id][backend.region_name]
    put = 0
    for metric_filter in filters:
        try:
            matcher = compile_pattern(metric_filter.get("filterPattern") or "")
        except PatternError as exc:
            _warn_once(
                f"{group}/{metric_filter['filterName']}",
                f"metric filter {metric_filter['filterName']!r} on {group} is not applied: {exc}",
            )
            continue
        for transform in metric_filter.get("metricTransformations") or []:
            data = _datapoints(matcher, transform, events)
            if data:
                cloudwatch.put_metric_data(transform["metricNamespace"], data)
                put += len(data)
    return put


def _datapoints(matcher, transform: dict, events: list[dict]) -> list[dict]:
    data = []
    for event in events:
        fields = matcher(event.get("message", ""))
        if fields is None:
            continue
        value = _metric_value(transform.get("metricValue", "1"), fields)
        if value is None:
            continue
        dimensions = []
        for name, ref in (transform.get("dimensions") or {}).items():
            resolved = _resolve(ref, fields)
            if resolved in (None, ""):
                break  # AWS drops the datapoint when a dimension has no value
            dimensions.append({"Name": name, "Value": str(resolved)})
        else:
            data.append(_datum(transform, value, dimensions, event.get("timestamp")))
    if not data and transform.get("defaultValue") is not None:
        # No event matched: the default value stands for this batch, as AWS reports it.
        last = events[-1].get("timestamp")
        data.append(_datum(transform, float(transform["defaultValue"]), [], last))
    return data


def _datum(transform: dict, value: float, dimensions: list, timestamp_ms) -> dict:
    moment = (
        datetime.fromtimestamp((timestamp_ms or 0) / 1000, timezone.utc)
        if timestamp_ms
        else datetime.now(timezone.utc)
    )
    datum = {
        "MetricName": transform["metricName"],
        "Value": value,
        "Dimensions": dimensions,
        "Timestamp": moment.replace(tzinfo=None),
    }  # moto compares naive UTC times
    if transform.get("unit"):
        datum["Unit"] = transform["unit"]
    return datum


def _metric_value(spec: str, fields: dict) -> float | None:
    resolved = _resolve(spec, fields)
    try:
        return float(resolved)
    except (TypeError, ValueError):
        return None


def _resolve(ref: str, fields: dict) -> Any:
    """`$.a.b` from a JSON event, `$name` from a space-delimited one, anything else literally."""
    if ref.startswith("$.") and "json" in fields:
        return _json_path(fields["json"], ref)
    if ref.startswith("$"):
        return fields.get(ref[1:])
    return ref


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        log.warning(message)


# --- filter patterns ---------------------------------------------------------------------------


class PatternError(ValueError):
    pass


def compile_pattern(pattern: str):
    """A function message -> captured fields (a dict, empty for term patterns) or None."""
    text = pattern.strip()
    if not text or text == '""':
        return lambda message: {}
    if text.startswith("{"):
        return _json_matcher(text)
    if text.startswith("["):
        return _delimited_matcher(text)
    return _term_matcher(text)


def _term_matcher(text: str):
    terms = re.findall(r'([?-]?)("(?:[^"\\]|\\.)*"|\S+)', text)
    required, optional, excluded = [], [], []
    for sign, term in terms:
        word = term[1:-1] if term.startswith('"') and term.endswith('"') else term
        {"": required, "?": optional, "-": excluded}[sign].append(word)

    def match(message: str):
        if any(word in message for word in excluded):
            return None
        if optional and not any(word in message for word in optional):
            return None
        return {} if all(word in message for word in required) else None

    return match


_JSON_TOKEN = re.compile(
    r"""\s*(?:(?P<paren>[()])|(?P<logic>&&|\|\|)|(?P<op>!=|<=|>=|=|<|>)
    |(?P<is>IS\s+(?:NOT\s+)?(?:NULL|TRUE|FALSE)|NOT\s+EXISTS|EXISTS)
    |(?P<selector>\$[\w.\[\]\-]*)|(?P<string>"(?:[^"\\]|\\.)*")|(?P<number>-?\d+(?:\.\d+)?)
    |(?P<word>[^\s()&|=!<>]+))""",
    re.X,
)


def _json_matcher(text: str):
    if not text.endswith("}"):
        raise PatternError("a JSON pattern must end with '}'")
    tokens = []
    pos, body = 0, text[1:-1]
    while pos < len(body):
        if body[pos:].strip() == "":
            break
        found = _JSON_TOKEN.match(body, pos)
        if not found:
            raise PatternError(f"cannot read the pattern at {body[pos:]!r}")
        tokens.append((found.lastgroup, found.group(found.lastgroup).strip()))
        pos = found.end()
    condition, rest = _or(tokens)
    if rest:
        raise PatternError(f"unexpected {rest[0][1]!r}")

    def match(message: str):
        try:
            document = json.loads(message)
        except ValueError:
            return None
        return {"json": document} if condition(document) else None

    return match


def _or(tokens):
    left, tokens = _and(tokens)
    while tokens and tokens[0] == ("logic", "||"):
        right, tokens = _and(tokens[1:])
        left = (lambda a, b: lambda d: a(d) or b(d))(left, right)
    return left, tokens


def _and(tokens):
    left, tokens = _comparison(tokens)
    while tokens and tokens[0] == ("logic", "&&"):
        right, tokens = _comparison(tokens[1:])
        left = (lambda a, b: lambda d: a(d) and b(d))(left, right)
    return left, tokens


def _comparison(tokens):
    if not tokens:
        raise PatternError("the pattern ends too early")
    if tokens[0] == ("paren", "("):
        inner, tokens = _or(tokens[1:])
        if not tokens or tokens[0] != ("paren", ")"):
            raise PatternError("a '(' is not closed")
        return inner, tokens[1:]
    kind, selector = tokens[0]
    if kind != "selector":
        raise PatternError(f"expected a selector like $.detail.state, found {selector!r}")
    if len(tokens) < 2:
        raise PatternError(f"{selector} needs a comparison")
    kind, op = tokens[1]
    if kind == "is":
        check = " ".join(op.split())
        tests = {
            "IS NULL": lambda v: v is None,
            "IS NOT NULL": lambda v: v is not None,
            "IS TRUE": lambda v: v is True,
            "IS FALSE": lambda v: v is False,
            "IS NOT TRUE": lambda v: v is not True,
            "IS NOT FALSE": lambda v: v is not False,
        }
        if check in ("NOT EXISTS", "EXISTS"):
            wanted = check == "EXISTS"
            return (
                lambda d: (_json_path(d, selector, _MISSING) is not _MISSING) == wanted
            ), tokens[2:]
        return (lambda d: tests[check](_json_path(d, selector))), tokens[2:]
    if kind != "op" or len(tokens) < 3:
        raise PatternError(f"{selector} needs an operator and a value")
    value_kind, raw = tokens[2]
    return _compare(selector, op, value_kind, raw), tokens[3:]


_MISSING = object()


def _compare(selector: str, op: str, value_kind: str, raw: str):
    if value_kind == "number":
        number = float(raw)
        ops = {
            "=": lambda v: v == number,
            "!=": lambda v: v != number,
            "<": lambda v: v < number,
            ">": lambda v: v > number,
            "<=": lambda v: v <= number,
            ">=": lambda v: v >= number,
        }

        def numeric(document):
            value = _json_path(document, selector)
            return (
                isinstance(value, (int, float)) and not isinstance(value, bool) and ops[op](value)
            )

        return numeric
    if op not in ("=", "!="):
        raise PatternError(f"{op} compares numbers only")
    if value_kind == "string":
        expected = json.loads(raw)
    elif value_kind == "word":
        expected = raw
    else:
        raise PatternError(f"cannot compare {selector} with {raw!r}")

    def textual(document):
        value = _json_path(document, selector)
        if isinstance(value, (dict, list)) or value is None:
            equal = False
        else:
            text = json.dumps(value) if isinstance(value, bool) else str(value)
            equal = fnmatch.fnmatchcase(text, expected) if "*" in expected else text == expected
        return equal if op == "=" else not equal

    return textual


def _json_path(document, selector: str, default=None):
    """`$.detail.state`, `$.resources[0]`: the value or `default` when absent."""
    value = document
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", selector[1:]):
        if part.startswith("["):
            index = int(part[1:-1])
            if not isinstance(value, list) or index >= len(value):
                return default
            value = value[index]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return default
    return value


def _delimited_matcher(text: str):
    """`[ip, user, ..., status=404, size]`: fields split on spaces ("quoted" and [bracketed]
    fields count as one), each optionally compared."""
    if not text.endswith("]"):
        raise PatternError("a space-delimited pattern must end with ']'")
    specs = []
    for item in [part.strip() for part in text[1:-1].split(",") if part.strip()]:
        found = re.fullmatch(r"([\w.]+)\s*(?:(!=|<=|>=|=|<|>)\s*(.+))?", item)
        if not found:
            raise PatternError(f"cannot read the field {item!r}")
        specs.append(found.groups())

    def match(message: str):
        values = re.findall(r'"[^"]*"|\[[^\]]*\]|\S+', message)
        values = [v[1:-1] if v[:1] in '"[' else v for v in values]
        fields: dict[str, str] = {}
        index = 0
        for position, (name, op, expected) in enumerate(specs):
            if name == "...":
                remaining = len(specs) - position - 1
                index = max(index, len(values) - remaining)
                continue
            if index >= len(values):
                return None
            value = values[index]
            index += 1
            if op and not _delimited_ok(value, op, expected.strip()):
                return None
            fields[name] = value
        return fields if index == len(values) or specs[-1][0] == "..." else None

    return match


def _delimited_ok(value: str, op: str, expected: str) -> bool:
    try:
        number, wanted = float(value), float(expected)
    except ValueError:
        if op not in ("=", "!="):
            return False
        expected = expected.strip('"')
        equal = fnmatch.fnmatchcase(value, expected) if "*" in expected else value == expected
        return equal if op == "=" else not equal
    return {
        "=": number == wanted,
        "!=": number != wanted,
        "<": number < wanted,
        ">": number > wanted,
        "<=": number <= wanted,
        ">=": number >= wanted,
    }[op]
