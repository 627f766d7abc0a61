"""Loading files into the store: the passes over the files and what each kind of record becomes.

Three streamed passes, so memory stays flat however large the files (see `caregate.bulkload.resolver`):
scan for conditional references, index their targets (skipped when there are none), then load. In the
load pass a plain resource or a collection entry keeps its id (PUT semantics, so a second load of the same
files gives the same resources) or gets a new UUID, has its conditional references rewritten, and joins
the current write batch. A transaction or batch Bundle is run as one, through the same code as
`POST [base]` (https://hl7.org/fhir/R4/http.html#transaction), after the batch before it is written.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from pathlib import Path

from caregate.bulkload import bundles
from caregate.bulkload.conditional import has_conditional
from caregate.bulkload.records import Record, RecordError, parse, read_records, total_bytes
from caregate.bulkload.resolver import Resolver
from caregate.bulkload.transactions import run_bundle
from caregate.bulkload.writer import Account, BatchWriter, BulkStore, LoadSummary, Report, data_error
from caregate.errors import FhirError
from caregate.fhir.definitions import is_resource_type
from caregate.interactions.context import RequestContext, new_id
from caregate.interactions.resource_rules import check_body
from caregate.search.registry import Registry
from caregate.storage.base import Write

# (phase, bytes of the files read in this phase, bytes in all, resources written so far)
ProgressHook = Callable[[str, int, int, int], None]


class Loader:
    def __init__(self, store: BulkStore, paths: Sequence[Path], registry: Registry, report: Report | None,
                 progress: ProgressHook | None, batch_size: int) -> None:
        self.paths = list(paths)
        self.store = store
        self.ctx = RequestContext(store, registry, "")
        self.account = Account([str(p) for p in self.paths], report)
        self.writer = BatchWriter(store.transact_sync, self.account, batch_size)
        self.resolver = Resolver(self.ctx, new_id)
        self.progress = progress
        self.total = total_bytes(self.paths)

    async def run(self) -> LoadSummary:
        started = time.monotonic()
        await self._pass("Scanning", self._scan, quiet=True)
        if self.resolver.plan():
            await self._pass("Indexing", self._index, quiet=True)
        await self.resolver.resolve()
        await self._pass("Loading", self._load, quiet=False)
        self.writer.flush()
        if self.account.summary.loaded:
            self.store.refresh_statistics()  # else the planner takes the filled tables for nearly empty
        self.account.summary.seconds = time.monotonic() - started
        return self.account.summary

    async def _pass(self, phase: str, handle: Callable[[Record], Awaitable[None]], *, quiet: bool) -> None:
        done = 0

        def on_bytes(n: int) -> None:
            nonlocal done
            done += n
            if self.progress is not None:
                self.progress(phase, done, self.total, self.account.summary.loaded)

        for file_no, path in enumerate(self.paths):
            line = 0
            try:
                for record in read_records(path, file_no, on_bytes):
                    line = record.line
                    await handle(record)
            except (OSError, EOFError, zlib.error) as exc:  # unreadable, or a truncated or corrupt gzip file
                if not quiet:
                    self.account.problem(file_no, line + 1, f"cannot read the file further: {exc}")

    # -- passes 1 and 2 ----------------------------------------------------------------------------
    async def _scan(self, record: Record) -> None:
        self.resolver.scan(record.raw)

    async def _index(self, record: Record) -> None:
        if not self.resolver.may_hold_target(record.raw):
            return
        try:
            doc = parse(record)
        except RecordError:
            return  # reported by the load pass
        await self.resolver.index_record(record, doc)

    # -- pass 3 ------------------------------------------------------------------------------------
    async def _load(self, record: Record) -> None:
        rewritten: bytes | None = record.raw
        unresolved: RecordError | None = None
        if has_conditional(record.raw):
            try:
                rewritten = self.resolver.rewrite_raw(record.raw)
            except RecordError as exc:
                rewritten, unresolved = record.raw, exc
        try:
            doc = parse(record if rewritten is None or rewritten is record.raw else replace(record, raw=rewritten))
        except RecordError as exc:
            self.account.problem(record.file_no, exc.line or record.line, str(exc))
            return
        what = bundles.kind(doc)
        if what == "transaction":
            self.writer.flush()
            await run_bundle(self.ctx, self.resolver, self.account, record, doc)
        elif what == "entries":
            await self._entries(record, doc)
        elif unresolved is not None:
            name = f"{doc['resourceType']}/{doc.get('id', '(no id)')}"
            self.account.problem(record.file_no, record.line, f"{name}: {unresolved}")
        else:
            await self._resource(record, None, doc, None, walk=rewritten is None)

    async def _entries(self, record: Record, bundle: dict) -> None:
        """A collection or searchset: its resources, with placeholder full URLs turned into references."""
        items: list[tuple[int, dict]] = []
        aliases: dict[str, str] = {}
        for e in bundles.entries(bundle):
            if e.resource is None:
                self.account.problem(record.file_no, record.line, e.error or "bad entry")
                continue
            rtype = e.resource.get("resourceType")
            if not isinstance(rtype, str) or not is_resource_type(rtype):
                self.account.problem(record.file_no, record.line,
                                     f"Bundle.entry[{e.index}]: {rtype!r} is not a FHIR R4 resource type")
                continue
            if "id" not in e.resource:
                e.resource["id"] = self._fresh_id(record, e.index)
            if bundles.is_placeholder(e.full_url) and bundles.valid_id(e.resource["id"]):
                aliases[str(e.full_url)] = f"{rtype}/{e.resource['id']}"
            items.append((e.index, e.resource))
        for index, resource in items:
            await self._resource(record, index, resource, aliases, walk=True)

    def _fresh_id(self, record: Record, entry: int | None) -> str:
        return self.resolver.pinned.pop((record.file_no, record.line, entry), None) or new_id()

    async def _resource(self, record: Record, entry: int | None, resource: dict,
                        aliases: dict[str, str] | None, *, walk: bool) -> None:
        rtype = resource["resourceType"]
        if "id" not in resource:
            resource["id"] = self._fresh_id(record, entry)
        name = f"{rtype}/{resource['id']}"
        if entry is not None:
            name = f"Bundle.entry[{entry}] ({name})"
        try:
            check_body(resource, rtype)
            if walk:
                await self.resolver.rewrite(resource, aliases)
        except (FhirError, RecordError) as exc:
            self.account.problem(record.file_no, record.line, f"{name}: {exc}")
            return
        except Exception as exc:
            message = data_error(exc)
            if message is None:
                raise
            self.account.problem(record.file_no, record.line, f"{name}: {message}")
            return
        self.writer.add(Write("update", rtype, resource["id"], resource), (record.file_no, record.line, name))
