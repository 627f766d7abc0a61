"""Index keys: which parameter an index row belongs to.

Rows of type-specific parameters are keyed `Type.code`. Rows of the parameters every resource has
(`_tag`, `_profile`, `_security`, `_source`, `_text`...; search.html#all) are keyed `Resource.code`, so a
search across all types (`GET [base]?_tag=...`) finds them with one key while a typed search still narrows
by the resource's own type.
"""

from __future__ import annotations

from functools import cache

from caregate.search.registry import default_registry


@cache
def common_codes() -> frozenset[str]:
    return frozenset(default_registry().for_type("Resource"))


@cache
def param_key(resource_type: str, code: str) -> str:
    """`Observation.code`, `Resource._tag`; suffixes such as `:canonical` stay on the code."""
    base = code.split(":", 1)[0]
    return f"Resource.{code}" if base in common_codes() else f"{resource_type}.{code}"
