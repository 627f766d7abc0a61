"""Machine-readable reports: JSON (a top-level `tests` list) and JUnit XML for CI systems."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import orjson

from caregate import __version__
from caregate.check.model import Verdict
from caregate.check.registry import SUITES
from caregate.check.runner import Run


def suite_scores(run: Run) -> list[dict[str, Any]]:
    """Per standard: how many tests passed of those that gave a verdict (skips left out)."""
    out = []
    for suite in SUITES:
        results = [r for r in run.results if r.test.suite == suite]
        if not results:
            continue
        counts = Counter(r.verdict.value for r in results)
        judged = counts["pass"] + counts["fail"] + counts["error"]
        out.append({
            "suite": suite, "tests": len(results), **{v.value: counts[v.value] for v in Verdict},
            "score": round(100 * counts["pass"] / judged) if judged else None,
            "mandatory_failed": sum(1 for r in results if r.mandatory and r.verdict in (Verdict.FAIL, Verdict.ERROR)),
        })
    return out


def to_json(run: Run) -> dict[str, Any]:
    return {
        "checker": f"caregate {__version__}",
        "server": run.base_url,
        "software": run.software,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "read_only": run.read_only,
        "conformant": not run.failed_mandatory(),
        "findings": run.findings,
        "suites": suite_scores(run),
        "tests": [r.as_json() for r in run.results],
    }


def write_json(run: Run, path: Path) -> None:
    path.write_bytes(orjson.dumps(to_json(run), option=orjson.OPT_INDENT_2))


def to_junit(run: Run) -> bytes:
    """JUnit XML: one testsuite per suite; fail and error keep their meaning, skip is `skipped`."""
    root = ET.Element("testsuites", name=f"caregate check {run.base_url}")
    for suite in SUITES:
        results = [r for r in run.results if r.test.suite == suite]
        if not results:
            continue
        counts = Counter(r.verdict for r in results)
        el = ET.SubElement(root, "testsuite", name=suite, tests=str(len(results)),
                           failures=str(counts[Verdict.FAIL]), errors=str(counts[Verdict.ERROR]),
                           skipped=str(counts[Verdict.SKIP]), time=f"{sum(r.seconds for r in results):.3f}")
        for r in results:
            case = ET.SubElement(el, "testcase", classname=f"{suite}", name=f"{r.test.id}: {r.test.title}",
                                 time=f"{r.seconds:.3f}")
            level = "mandatory" if r.mandatory else "optional"
            text = f"{r.message}\nRequirement ({level}): {r.test.requirement.text}\n{r.test.requirement.link}"
            if r.verdict is Verdict.FAIL:
                ET.SubElement(case, "failure", message=r.message[:500]).text = text
            elif r.verdict is Verdict.ERROR:
                ET.SubElement(case, "error", message=r.message[:500]).text = text
            elif r.verdict is Verdict.SKIP:
                ET.SubElement(case, "skipped", message=r.message[:500])
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def write_junit(run: Run, path: Path) -> None:
    path.write_bytes(to_junit(run))
