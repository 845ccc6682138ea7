"""Test reports: JUnit XML and Cucumber JSON files read into report records and test cases."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ParsedReport:
    test_cases: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def status_counts(self) -> dict[str, int]:
        counts = {s: 0 for s in ("SUCCEEDED", "FAILED", "ERROR", "SKIPPED", "UNKNOWN")}
        for case in self.test_cases:
            counts[case["status"]] = counts.get(case["status"], 0) + 1
        return counts

    @property
    def duration_ns(self) -> int:
        return sum(c.get("durationInNanoSeconds", 0) for c in self.test_cases)

    @property
    def status(self) -> str:
        """SUCCEEDED when no test failed or errored, FAILED otherwise (as CodeBuild reports)."""
        counts = self.status_counts
        return "FAILED" if counts["FAILED"] or counts["ERROR"] else "SUCCEEDED"


def parse_files(files: list[Path], file_format: str) -> ParsedReport:
    report = ParsedReport()
    for path in files:
        try:
            if file_format == "CUCUMBERJSON":
                _parse_cucumber(path, report)
            else:
                _parse_junit(path, report)
        except (ET.ParseError, ValueError, OSError) as exc:
            report.problems.append(f"{path.name}: {exc}")
    return report


def _seconds_to_ns(value) -> int:
    try:
        return int(float(value or 0) * 1_000_000_000)
    except ValueError:
        return 0


def _parse_junit(path: Path, report: ParsedReport) -> None:
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    if root.tag == "testsuites" and not suites:
        suites = [root]
    seen = set()
    for suite in suites:
        for case in suite.findall("testcase"):
            if id(case) in seen:
                continue
            seen.add(id(case))
            status, message = "SUCCEEDED", None
            for tag, kind in (("failure", "FAILED"), ("error", "ERROR"), ("skipped", "SKIPPED")):
                found = case.find(tag)
                if found is not None:
                    status = kind
                    message = (found.get("message") or found.text or "").strip()[:4000] or None
                    break
            report.test_cases.append(
                {
                    "name": case.get("name", ""),
                    "prefix": case.get("classname") or suite.get("name", ""),
                    "testSuiteName": suite.get("name", ""),
                    "status": status,
                    "durationInNanoSeconds": _seconds_to_ns(case.get("time")),
                    "message": message,
                    "testRawDataPath": str(path.name),
                }
            )


def _parse_cucumber(path: Path, report: ParsedReport) -> None:
    features = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(features, list):
        raise ValueError("a Cucumber JSON report is a list of features")
    for feature in features:
        for scenario in feature.get("elements", []):
            steps = scenario.get("steps", [])
            statuses = [s.get("result", {}).get("status", "undefined") for s in steps]
            if "failed" in statuses:
                status = "FAILED"
            elif statuses and all(s == "passed" for s in statuses):
                status = "SUCCEEDED"
            elif "skipped" in statuses or "pending" in statuses:
                status = "SKIPPED"
            else:
                status = "UNKNOWN"
            message = next(
                (
                    s["result"].get("error_message")
                    for s in steps
                    if s.get("result", {}).get("status") == "failed"
                ),
                None,
            )
            report.test_cases.append(
                {
                    "name": scenario.get("name", ""),
                    "prefix": feature.get("name", ""),
                    "testSuiteName": feature.get("name", ""),
                    "status": status,
                    "durationInNanoSeconds": sum(
                        int(s.get("result", {}).get("duration", 0) or 0) for s in steps
                    ),
                    "message": message,
                    "testRawDataPath": str(path.name),
                }
            )
