"""Find secrets where they must never be: AWS keys and the course's secret values in notebooks, reports and logs.

`scan_paths([...], secret_values)` walks files (executed notebooks cell by cell, reports,
logs) and returns one Finding per hit, with the secret masked in the finding itself.
`redact(text, secret_values)` masks them in text labkit is about to print.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# Access key ids: AKIA (long-term), ASIA (temporary) and the other IAM unique-id prefixes.
ACCESS_KEY_ID = re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Z0-9])")
# A secret access key is 40 base64 characters; alone that also matches commit ids, so only
# flag one that is labelled as a secret key.
SECRET_ACCESS_KEY = re.compile(
    r"(?i)(?:aws_secret_access_key|secret_?access_?key|SecretAccessKey)[\"'\s:=>]{1,6}"
    r"([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])")
# AWS's documented examples are not secrets; the course may show them.
DOCUMENTED_EXAMPLES = frozenset({"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"})
SCANNED_SUFFIXES = (".ipynb", ".json", ".html", ".htm", ".txt", ".md", ".log", ".csv", ".xml",
                    ".yml", ".yaml", ".out")
MIN_SECRET_LENGTH = 6  # shorter values would match ordinary words


@dataclass(frozen=True)
class Finding:
    path: str
    where: str  # "cell 3 output", "line 12", ...
    kind: str  # "access key id", "secret access key", "secret value"
    excerpt: str  # masked

    def __str__(self) -> str:
        return f"{self.path} ({self.where}): {self.kind} {self.excerpt}"


def mask(value: str) -> str:
    """`AKIA****WXYZ`: enough to recognise which key, never enough to use it."""
    if len(value) <= 8:
        return "***"
    return f"{value[:4]}****{value[-4:]}"


def _usable(values: Iterable[str]) -> list[str]:
    return sorted({v for v in values if v and len(v) >= MIN_SECRET_LENGTH}, key=len, reverse=True)


def scan_text(text: str, secret_values: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(kind, masked match) for every secret in `text`."""
    hits = []
    for match in ACCESS_KEY_ID.finditer(text):
        if match.group(0) not in DOCUMENTED_EXAMPLES:
            hits.append(("access key id", mask(match.group(0))))
    for match in SECRET_ACCESS_KEY.finditer(text):
        if match.group(1) not in DOCUMENTED_EXAMPLES:
            hits.append(("secret access key", mask(match.group(1))))
    for value in _usable(secret_values):
        if value in text:
            hits.append(("secret value", mask(value)))
    return hits


def redact(text: str, secret_values: Iterable[str] = ()) -> str:
    """`text` with access keys masked and every secret value replaced by `***`."""
    for value in _usable(secret_values):
        text = text.replace(value, "***")
    text = SECRET_ACCESS_KEY.sub(lambda m: m.group(0).replace(m.group(1), mask(m.group(1))), text)
    return ACCESS_KEY_ID.sub(lambda m: m.group(0) if m.group(0) in DOCUMENTED_EXAMPLES
                             else mask(m.group(0)), text)


def scan_notebook(path: Path, secret_values: Iterable[str] = ()) -> list[Finding]:
    """Every cell's source and outputs (text, HTML, data, tracebacks) of one notebook."""
    try:
        notebook = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except ValueError:
        return scan_file(path, secret_values)  # not JSON: scan it as text
    findings = []
    for index, cell in enumerate(notebook.get("cells", [])):
        parts = [("source", _joined(cell.get("source")))]
        for output in cell.get("outputs", []):
            pieces = [_joined(output.get("text")), _joined(output.get("traceback")),
                      str(output.get("evalue", ""))]
            pieces += [_joined(v) if not isinstance(v, dict) else json.dumps(v)
                       for v in (output.get("data") or {}).values()]
            parts.append(("output", "\n".join(pieces)))
        for part, text in parts:
            for kind, excerpt in scan_text(text, secret_values):
                findings.append(Finding(str(path), f"cell {index} {part}", kind, excerpt))
    metadata = json.dumps(notebook.get("metadata", {}))
    findings += [Finding(str(path), "metadata", k, e) for k, e in scan_text(metadata, secret_values)]
    return findings


def scan_file(path: Path, secret_values: Iterable[str] = ()) -> list[Finding]:
    findings = []
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                for kind, excerpt in scan_text(line, secret_values):
                    findings.append(Finding(str(path), f"line {number}", kind, excerpt))
    except OSError:
        pass
    return findings


def scan_paths(paths: Iterable[Path | str], secret_values: Iterable[str] = ()) -> list[Finding]:
    """Scan files and folders (recursively, files with SCANNED_SUFFIXES; hidden folders skipped)."""
    values = _usable(secret_values)
    findings = []
    for root in map(Path, paths):
        files = [root] if root.is_file() else sorted(
            p for p in root.rglob("*") if p.is_file() and p.suffix in SCANNED_SUFFIXES
            and not any(part.startswith(".") for part in p.relative_to(root).parts))
        for path in files:
            scan = scan_notebook if path.suffix == ".ipynb" else scan_file
            findings.extend(scan(path, values))
    return findings


def lab_secret_values(lab) -> list[str]:
    """The values of the lab's Secrets Manager secrets and SecureString parameters (to look for)."""
    from labkit.teardown.core import LOOKUP_ERRORS, name_in_lab, paginate

    values: list[str] = []
    sm = lab.client("secretsmanager")
    for secret in paginate(sm, "list_secrets", "SecretList"):
        if not name_in_lab(secret["Name"], lab.prefix):
            continue
        try:
            text = sm.get_secret_value(SecretId=secret["ARN"]).get("SecretString") or ""
        except LOOKUP_ERRORS:
            continue
        values.append(text)
        values.extend(_json_leaves(text))
    ssm = lab.client("ssm")
    for parameter in paginate(ssm, "describe_parameters", "Parameters"):
        if parameter.get("Type") == "SecureString" and name_in_lab(parameter["Name"], lab.prefix):
            try:
                values.append(ssm.get_parameter(Name=parameter["Name"], WithDecryption=True)[
                    "Parameter"]["Value"])
            except LOOKUP_ERRORS:
                continue
    return _usable(values)


def _json_leaves(text: str) -> list[str]:
    # A JSON secret ({"username": ..., "password": ...}) leaks one field at a time.
    try:
        data = json.loads(text)
    except ValueError:
        return []
    return [str(v) for v in data.values()] if isinstance(data, dict) else []


def _joined(value) -> str:
    if value is None:
        return ""
    return "".join(value) if isinstance(value, list) else str(value)
