"""Transaction and batch Bundles in a load: run through `caregate.interactions.transaction`, as if POSTed.

Before it runs, a Bundle gets what only the load knows: the ids fixed in advance for entries that other
records point at (`bundles.pin_ids`), and its conditional references rewritten to the targets found in the
loaded files or the store. A transaction is all-or-nothing (https://hl7.org/fhir/R4/http.html#trules), so
one reference that does not resolve fails the whole Bundle; in a batch each entry stands alone
(http.html#brules), so only that entry is left out. Failed batch entries are reported from the
batch-response, with the diagnostics of their OperationOutcome.
"""

from __future__ import annotations

from caregate.bulkload import bundles
from caregate.bulkload.records import Record, RecordError
from caregate.bulkload.resolver import Resolver
from caregate.bulkload.writer import Account, data_error
from caregate.interactions.context import RequestContext
from caregate.interactions.transaction import transaction

_WRITES = ("POST", "PUT", "PATCH")


async def run_bundle(ctx: RequestContext, resolver: Resolver, account: Account, record: Record,
                     bundle: dict) -> None:
    btype = bundle.get("type")

    def problem(message: str) -> None:
        account.problem(record.file_no, record.line, message)

    raw = bundle.get("entry")
    entries: list = raw if isinstance(raw, list) else []
    pins = {}
    for i in range(len(entries)):
        pinned = resolver.pinned.pop((record.file_no, record.line, i), None)
        if pinned is not None:
            pins[i] = pinned
    bundles.pin_ids(bundle, pins)
    origin = list(range(len(entries)))
    if btype == "transaction":
        try:
            await resolver.rewrite(bundle)
        except RecordError as exc:
            problem(f"transaction Bundle not loaded: {exc}")
            return
    else:
        kept = []
        for i, e in enumerate(entries):
            try:
                if isinstance(e, dict) and isinstance(e.get("resource"), dict):
                    await resolver.rewrite(e["resource"])
            except RecordError as exc:
                problem(f"Bundle.entry[{i}]: {exc}")
                continue
            kept.append(i)
        if len(kept) < len(entries):
            bundle = {**bundle, "entry": [entries[i] for i in kept]}
            origin = kept
    try:
        result = await transaction(ctx, bundle)
    except Exception as exc:
        message = data_error(exc)
        if message is None:
            raise
        problem(f"{btype} Bundle not loaded: {message}")
        return
    _account(account, record, bundle.get("entry") or [], (result.body or {}).get("entry") or [], origin)


def _account(account: Account, record: Record, requests: list, responses: list, origin: list[int]) -> None:
    for i, (req, res) in enumerate(zip(requests, responses, strict=False)):
        response = res.get("response") or {}
        status = str(response.get("status", ""))
        if status.startswith("2"):
            if req["request"]["method"] in _WRITES:
                location = str(response.get("location", ""))
                account.written(location.split("/", 1)[0] or "Resource")
            continue
        issues = (response.get("outcome") or {}).get("issue") or [{}]
        why = "; ".join(str(issue.get("diagnostics", "")) for issue in issues)
        account.problem(record.file_no, record.line, f"Bundle.entry[{origin[i]}]: {status} {why}".rstrip())
