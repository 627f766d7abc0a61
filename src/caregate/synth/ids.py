"""Deterministic resource ids for synthetic data.

Bundles are loaded with ``PUT Type/id`` (FHIR R4 http.html#update, "update as create"), so every id
must be chosen by the client and be the same every time the same seed is generated: then loading a
data set twice, or into two servers, gives identical results. Ids are name-based UUIDs (RFC 4122
version 5) derived from the seed and a stable key describing the resource's place in the data set,
so different seeds never collide and ids never depend on the wall clock or on process state.

A UUID in its canonical 36-character form satisfies the FHIR id rule ``[A-Za-z0-9\\-\\.]{1,64}``
(http://hl7.org/fhir/R4/datatypes.html#id).
"""

from __future__ import annotations

import hashlib
import re
import uuid

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://caregate.invalid/synth")
"""Namespace for every synthetic id; fixed forever, or ids of existing data sets would change."""

FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
"""The FHIR R4 ``id`` datatype pattern."""


class IdFactory:
    """Mints ids for one seed: the same (seed, key) always yields the same id.

    ``make(key)`` equals ``str(uuid.uuid5(NAMESPACE, f"seed={seed}/{key}"))``; it hashes from a
    precomputed SHA-1 state instead of calling :func:`uuid.uuid5`, because a large data set mints
    millions of ids.
    """

    __slots__ = ("_hash",)

    def __init__(self, seed: int) -> None:
        self._hash = hashlib.sha1(NAMESPACE.bytes + f"seed={seed}/".encode(), usedforsecurity=False)

    def make(self, key: str) -> str:
        """The id for ``key`` (for example ``"org/3"`` or ``"p12/Observation/40"``)."""
        digest = self._hash.copy()
        digest.update(key.encode())
        raw = bytearray(digest.digest()[:16])
        raw[6] = (raw[6] & 0x0F) | 0x50  # version 5 (RFC 4122 section 4.3)
        raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
        h = raw.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Counter:
    """Per-patient id source: numbers resources of each type in creation order."""

    __slots__ = ("_counts", "_factory", "_scope")

    def __init__(self, factory: IdFactory, scope: str) -> None:
        self._factory = factory
        self._scope = scope
        self._counts: dict[str, int] = {}

    def next(self, resource_type: str) -> str:
        """A fresh id for the next resource of ``resource_type`` in this scope."""
        n = self._counts.get(resource_type, 0)
        self._counts[resource_type] = n + 1
        return self._factory.make(f"{self._scope}/{resource_type}/{n}")


def is_fhir_id(value: object) -> bool:
    """True if ``value`` is a string matching the FHIR id rule."""
    return isinstance(value, str) and FHIR_ID.fullmatch(value) is not None
