"""Reports of a `labkit run`: summary.json, junit.xml (one test case per chapter), report.md, report.html."""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from dataclasses import asdict
from pathlib import Path

# Marks every font has (chromium on a bare Debian shows emoji as empty boxes).
STATUS_MARK = {"passed": "✔ passed", "failed": "✘ failed", "skipped": "– skipped"}


def write_all(series, output: Path) -> dict[str, Path]:
    """Write the four reports into `output`; returns their paths by kind."""
    paths = {"summary": output / "summary.json", "junit": output / "junit.xml",
             "markdown": output / "report.md", "html": output / "report.html"}
    paths["summary"].write_text(json.dumps(summary(series), indent=2), encoding="utf-8")
    paths["junit"].write_bytes(junit_xml(series))
    paths["markdown"].write_text(markdown(series), encoding="utf-8")
    paths["html"].write_text(html_report(series), encoding="utf-8")
    return paths


def summary(series) -> dict:
    options = series.options
    return {
        "ok": series.ok,
        "exitCode": series.exit_code,
        "started": series.started,
        "seconds": series.seconds,
        "backend": options.backend,
        "region": options.region,
        "prefix": series.prefix,
        "chapterRange": options.chapters,
        "passed": sum(c.status == "passed" for c in series.chapters),
        "failed": len(series.failed),
        "skipped": sum(c.status == "skipped" for c in series.chapters),
        "chapters": [{**asdict(c), "error": c.error} for c in series.chapters],
        "teardown": asdict(series.teardown),
    }


def junit_xml(series) -> bytes:
    """One <testcase> per chapter plus one for teardown, so CI systems list them."""
    suite = ET.Element("testsuite", name="labkit run", timestamp=series.started,
                       tests=str(len(series.chapters) + 1), time=f"{series.seconds:.1f}",
                       failures=str(len(series.failed) + (series.teardown.status == "failed")),
                       skipped=str(sum(c.status == "skipped" for c in series.chapters)
                                   + (series.teardown.status == "skipped")))
    for chapter in series.chapters:
        case = ET.SubElement(suite, "testcase", classname="labkit.chapters", name=chapter.chapter,
                             time=f"{chapter.seconds:.1f}")
        if chapter.status == "failed":
            cell = chapter.failed_cell
            failure = ET.SubElement(case, "failure", type=cell.error_name,
                                    message=cell.describe()[:1000])
            failure.text = f"{cell.describe()}\n\n{cell.source}\n\nexecuted notebook: {chapter.output}"
        elif chapter.status == "skipped":
            ET.SubElement(case, "skipped", message="not run: an earlier chapter failed (no --keep-going)")
    case = ET.SubElement(suite, "testcase", classname="labkit", name="teardown")
    if series.teardown.status == "failed":
        failure = ET.SubElement(case, "failure", type="TeardownLeftovers",
                                message=series.teardown.message.splitlines()[0][:1000])
        failure.text = series.teardown.message
    elif series.teardown.status == "skipped":
        ET.SubElement(case, "skipped", message=series.teardown.message)
    suites = ET.Element("testsuites")
    suites.append(suite)
    ET.indent(suites)
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True)


def _headline(series) -> str:
    counts = summary(series)
    verdict = "all green" if series.ok else "FAILED"
    return (f"{verdict}: {counts['passed']} passed, {counts['failed']} failed, "
            f"{counts['skipped']} skipped in {series.seconds:.0f} s; teardown {series.teardown.status}")


def markdown(series) -> str:
    options = series.options
    lines = [f"# labkit run: {_headline(series)}", "",
             f"Backend `{options.backend}`, prefix `{series.prefix}`, chapters `{options.chapters}`, "
             f"started {series.started}.", "",
             "| chapter | status | duration | failing cell | error |",
             "|---|---|---:|---|---|"]
    for chapter in series.chapters:
        cell = chapter.failed_cell
        where = f"cell {cell.index}: `{cell.first_line}`" if cell else ""
        error = f"{cell.error_name}: {cell.error_value}" if cell else ""
        name = f"[{chapter.chapter}]({chapter.output})" if chapter.status != "skipped" else chapter.chapter
        lines.append(f"| {name} | {STATUS_MARK[chapter.status]} | {chapter.seconds:.1f} s | "
                     f"{_md_cell(where)} | {_md_cell(error)} |")
    lines += ["", f"**Teardown** ({series.teardown.status}): {series.teardown.message}", ""]
    charts = [c for chapter in series.chapters for c in chapter.charts]
    if charts:
        lines += ["## Charts", ""] + [f"![{c}]({c})" for c in charts] + [""]
    return "\n".join(lines)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def html_report(series) -> str:
    esc = html.escape
    options = series.options
    rows = []
    for chapter in series.chapters:
        cell = chapter.failed_cell
        link = (f'<a href="{esc(chapter.output)}">{esc(chapter.chapter)}</a>'
                if chapter.status != "skipped" else esc(chapter.chapter))
        failing = (f"cell {cell.index}" + (f" (In [{cell.execution_count}])" if cell.execution_count else "")
                   + f"<br><code>{esc(cell.first_line)}</code>") if cell else ""
        error = f"<b>{esc(cell.error_name)}</b>: {esc(cell.error_value)}" if cell else ""
        rows.append(f'<tr class="{chapter.status}"><td>{link}</td><td>{STATUS_MARK[chapter.status]}</td>'
                    f'<td class="num">{chapter.seconds:.1f} s</td><td>{failing}</td><td>{error}</td></tr>')
    charts = "".join(
        f'<figure><img src="{esc(c)}" alt="{esc(c)}"><figcaption>{esc(c)}</figcaption></figure>'
        for chapter in series.chapters for c in chapter.charts)
    leftovers = "".join(f"<li>{esc(item)}</li>" for item in series.teardown.leftovers)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>labkit run: {esc(_headline(series))}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: .4em .7em; text-align: left; vertical-align: top; }}
tr.passed td:nth-child(2) {{ color: #17702a; }} tr.failed td:nth-child(2) {{ color: #b00020; font-weight: bold; }}
tr.skipped {{ color: #888; }} td.num {{ text-align: right; }}
figure {{ display: inline-block; margin: 1em; }} img {{ max-width: 560px; border: 1px solid #ddd; }}
</style></head><body>
<h1 id="verdict" class="{'ok' if series.ok else 'failed'}">labkit run: {esc(_headline(series))}</h1>
<p>Backend <code>{esc(options.backend)}</code>, prefix <code>{esc(series.prefix)}</code>,
chapters <code>{esc(options.chapters)}</code>, started {esc(series.started)}.</p>
<table id="chapters"><thead><tr><th>chapter</th><th>status</th><th>duration</th><th>failing cell</th><th>error</th></tr></thead>
<tbody>{''.join(rows)}</tbody></table>
<h2>Teardown: {esc(series.teardown.status)}</h2>
<pre>{esc(series.teardown.message)}</pre>{f'<ul>{leftovers}</ul>' if leftovers else ''}
<h2>Charts</h2>{charts or '<p>The run displayed no charts.</p>'}
</body></html>
"""
