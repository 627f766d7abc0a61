"""Reading the records of load files, streamed: NDJSON line by line, JSON documents whole.

Bulk data exports are NDJSON, one resource per line, often gzipped
(https://hl7.org/fhir/uv/bulkdata/export.html#file-format; `.ndjson.gz` is common in practice). A file is
read as NDJSON when its name says so (`.ndjson`, `.jsonl`) or when its first non-blank line is a JSON
value on its own; otherwise it is one JSON document (a resource or a Bundle, possibly pretty-printed),
which has to be parsed whole. Compression is recognised by the gzip magic bytes, not by the name.

Only the current line is ever held, so a 1 GB NDJSON file is read in flat memory. Line numbers count
every physical line from 1, blank ones included, so `FILE:LINE` in a report points at the right place.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import orjson

from caregate.fhir.definitions import is_resource_type

_NDJSON_SUFFIXES = (".ndjson", ".jsonl")
_LOADABLE_SUFFIXES = (".ndjson", ".jsonl", ".json")
_PROGRESS_EVERY = 256  # lines between two progress reports

ByteCounter = Callable[[int], None]


class RecordError(Exception):
    """A record that cannot be loaded; the message is for the user, the line is absolute."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True, slots=True)
class Record:
    """The raw bytes of one record and where it starts: `file_no` is the file's index in the load."""

    file_no: int
    line: int
    raw: bytes


def expand(paths: Iterable[Path]) -> list[Path]:
    """The files to load: files as given, folders replaced by their JSON/NDJSON files (sorted, recursive).
    In a FHIR package folder (an npm package: `package.json` beside the resources) the package's own
    manifest and index (`package.json`, `.index.json`) are not resources and are left out."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.is_file() and _loadable(p) and not (
                p.name in ("package.json", ".index.json") and (p.parent / "package.json").is_file())))
        else:
            out.append(path)
    return out


def _loadable(path: Path) -> bool:
    name = path.name.lower().removesuffix(".gz")
    return name.endswith(_LOADABLE_SUFFIXES)


def _is_ndjson_name(path: Path) -> bool:
    return path.name.lower().removesuffix(".gz").endswith(_NDJSON_SUFFIXES)


def _open(raw: BinaryIO) -> BinaryIO:
    magic = raw.read(2)
    raw.seek(0)
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


def read_records(path: Path, file_no: int, on_bytes: ByteCounter | None = None) -> Iterator[Record]:
    """Yield the records of one file. `on_bytes` is told how many bytes of the file (as stored, so
    compressed bytes for gzip) have been consumed since it was last called."""
    with path.open("rb") as raw:
        done = 0

        def advance() -> None:
            nonlocal done
            if on_bytes is not None:
                pos = raw.tell()
                if pos > done:
                    on_bytes(pos - done)
                    done = pos

        stream = _open(raw)
        lines = iter(stream)
        number = 0
        ndjson = _is_ndjson_name(path)
        for line in lines:
            number += 1
            if not line.strip():
                continue
            if not ndjson and not _parses(line):
                # A pretty-printed document: the first line is not a value on its own.
                yield Record(file_no, number, line + stream.read())
                advance()
                return
            ndjson = True
            yield Record(file_no, number, line)
            if number % _PROGRESS_EVERY == 0:
                advance()
        advance()


def _parses(line: bytes) -> bool:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True


def parse(record: Record) -> dict:
    """The record as a JSON object with a known `resourceType`, or a `RecordError` saying why not."""
    try:
        value = orjson.loads(record.raw)
    except orjson.JSONDecodeError as exc:
        # An error at the very end (input cut short) is reported on the record's last line, not after it.
        last = record.raw.rstrip().count(b"\n") + 1
        line = record.line + min(max(exc.lineno, 1), last) - 1
        raise RecordError(f"not valid JSON: {exc.msg}", line) from None
    if not isinstance(value, dict):
        raise RecordError(f"expected a FHIR resource (a JSON object), found a JSON {type(value).__name__}")
    rtype = value.get("resourceType")
    if not isinstance(rtype, str) or not rtype:
        raise RecordError("the object has no 'resourceType', so it is not a FHIR resource")
    if not is_resource_type(rtype):
        raise RecordError(f"'{rtype}' is not a FHIR R4 resource type")
    return value


def total_bytes(paths: Iterable[Path]) -> int:
    """The size of the files as stored: the total that `on_bytes` counts towards, once per pass."""
    return sum(p.stat().st_size for p in paths)
