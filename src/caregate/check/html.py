"""The HTML report: one self-contained page (inline styles, no scripts, no external assets) for a buyer to read.

It opens with the verdict and any prominent finding, then a score per standard, then every failure with the
requirement in plain words, a link to the spec and the evidence; passes and skips are listed last.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

from caregate.check.model import Exchange, TestResult, Verdict
from caregate.check.reports import suite_scores, to_json
from caregate.check.runner import Run

SUITE_NAMES = {
    "capability": "Declares what it does (CapabilityStatement)",
    "rest": "FHIR REST API: reading and writing records",
    "search": "Finding records (FHIR search)",
    "ukcore": "UK Core content: NHS numbers and SNOMED CT",
    "security": "Security: SMART on FHIR and OAuth 2.0",
    "realtime": "Real-time notifications (Subscriptions)",
    "bulk": "Bulk data export",
}

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d1d1f;background:#f6f7f9}
main{max-width:1000px;margin:0 auto;padding:24px}
h1{font-size:1.6em;margin:.2em 0} h2{margin-top:1.6em;border-bottom:2px solid #dde;padding-bottom:.2em}
.verdict{padding:16px 20px;border-radius:8px;font-size:1.2em;font-weight:600;margin:16px 0}
.ok{background:#e3f5e8;border:2px solid #2e8b57} .bad{background:#fde8e8;border:2px solid #c0392b}
.finding{background:#fff4d6;border:3px solid #d35400;padding:14px 18px;border-radius:8px;font-weight:600;
margin:12px 0}
table{border-collapse:collapse;width:100%;background:#fff} th,td{border:1px solid #dde;padding:6px 10px;
text-align:left;vertical-align:top} th{background:#eef0f4}
.bar{background:#e6e6e6;border-radius:4px;height:12px;width:160px;display:inline-block;vertical-align:middle}
.bar span{display:block;height:12px;border-radius:4px;background:#2e8b57}
.pass{color:#1e7a46;font-weight:600} .fail{color:#c0392b;font-weight:700} .skip{color:#8a6d00}
.error{color:#8e44ad;font-weight:700}
.test{background:#fff;border:1px solid #dde;border-left:6px solid #c0392b;border-radius:6px;padding:10px 14px;
margin:12px 0} .test.optional{border-left-color:#e67e22}
.req{margin:.4em 0} details{margin:.4em 0} pre{white-space:pre-wrap;word-break:break-all;background:#f3f3f6;
padding:8px;border-radius:4px;font-size:.82em;max-height:320px;overflow:auto}
.meta{color:#555;font-size:.9em}
"""


def _exchange(e: Exchange) -> str:
    if not e.method:
        return f"<p class=meta>{escape(e.note)}</p>"
    request = f"{e.method} {e.url}\n" + "".join(f"{k}: {v}\n" for k, v in e.request_headers.items())
    if e.request_body:
        request += "\n" + e.request_body
    if e.status is None:
        response = e.note
    else:
        response = f"HTTP {e.status}\n" + "".join(f"{k}: {v}\n" for k, v in e.response_headers.items())
        if e.response_body:
            response += "\n" + e.response_body
    return (f"<details><summary>{escape(e.method)} {escape(e.url[:140])} &rarr; "
            f"{escape(str(e.status) if e.status is not None else 'no response')}</summary>"
            f"<pre>{escape(request)}</pre><pre>{escape(response)}</pre></details>")


def _failure(r: TestResult) -> str:
    level = "mandatory" if r.mandatory else "optional (reported, does not fail the check)"
    evidence = "".join(_exchange(e) for e in r.evidence) or "<p class=meta>No HTTP exchange.</p>"
    return (f"<div class='test{'' if r.mandatory else ' optional'}'>"
            f"<h3><span class={r.verdict.value}>{r.verdict.value.upper()}</span> {escape(r.test.title)}</h3>"
            f"<p class=meta>{escape(r.test.id)} &middot; {level}</p>"
            f"<p class=req><b>The standard requires:</b> {escape(r.test.requirement.text)} "
            f"(<a href='{escape(r.test.requirement.link)}'>specification</a>)</p>"
            f"<p><b>What we found:</b> {escape(r.message)}</p>"
            f"<details><summary>Evidence: {len(r.evidence)} request(s) and response(s)</summary>{evidence}"
            f"</details></div>")


def render(run: Run) -> str:
    data = to_json(run)
    failed = run.failed_mandatory()
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Standards check: "
             f"{escape(run.base_url)}</title><style>{_CSS}</style></head><body><main>",
             f"<h1>Standards check of {escape(run.base_url)}</h1>",
             f"<p class=meta>{escape(run.software or 'software not stated')} &middot; checked {escape(data['date'])}"
             f" by {escape(data['checker'])}{' &middot; read-only' if run.read_only else ''}</p>"]
    parts += [f"<div class=finding>&#9888; {escape(f)}</div>" for f in run.findings]
    if failed:
        parts.append(f"<div class='verdict bad'>Does not meet the standards: {len(failed)} mandatory "
                     f"test(s) failed.</div>")
    else:
        parts.append("<div class='verdict ok'>Meets every mandatory requirement that was tested.</div>")
    parts.append("<h2>Score per standard</h2><table><tr><th>Standard</th><th>Score</th><th>Passed</th>"
                 "<th>Failed</th><th>Errors</th><th>Skipped</th><th>Mandatory failures</th></tr>")
    for s in suite_scores(run):
        score = s["score"]
        bar = ("not tested" if score is None else
               f"<span class=bar><span style='width:{score}%'></span></span> {score}%")
        parts.append(f"<tr><td>{escape(SUITE_NAMES.get(s['suite'], s['suite']))}</td><td>{bar}</td>"
                     f"<td>{s['pass']}</td><td>{s['fail']}</td><td>{s['error']}</td><td>{s['skip']}</td>"
                     f"<td>{s['mandatory_failed']}</td></tr>")
    parts.append("</table>")
    problems = [r for r in run.results if r.verdict in (Verdict.FAIL, Verdict.ERROR)]
    problems.sort(key=lambda r: not r.mandatory)
    mandatory = sum(1 for r in problems if r.mandatory)
    parts.append(f"<h2>Failures: {mandatory} mandatory, {len(problems) - mandatory} optional</h2>")
    parts += [_failure(r) for r in problems] or ["<p>None.</p>"]
    parts.append("<h2>Every test</h2><table><tr><th>Verdict</th><th>Test</th><th>Requirement</th>"
                 "<th>Result</th></tr>")
    for r in run.results:
        parts.append(f"<tr><td class={r.verdict.value}>{r.verdict.value}</td><td>{escape(r.test.title)}<br>"
                     f"<span class=meta>{escape(r.test.id)}{' &middot; mandatory' if r.mandatory else ''}</span>"
                     f"</td><td><a href='{escape(r.test.requirement.link)}'>{escape(r.test.requirement.text)}</a>"
                     f"</td><td>{escape(r.message)}</td></tr>")
    parts.append("</table>")
    summary = {k: data[k] for k in ("checker", "server", "date", "conformant")}
    parts.append(f"<p class=meta>{escape(json.dumps(summary))}</p></main></body></html>")
    return "".join(parts)


def write_html(run: Run, path: Path) -> None:
    path.write_text(render(run), encoding="utf-8")
