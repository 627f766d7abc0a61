"""Fixtures of the terminology tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from caregate.storage import snomed
from caregate.storage.snomed_load import load_release
from tests.fhir.terminology.rf2 import small_release


@pytest.fixture
def loaded(database_url: str, tmp_path: Path) -> Iterator[str]:
    """The small release loaded into a fresh database and served to the terminology library."""
    load_release(database_url, small_release(tmp_path / "release"))
    snomed.install(database_url)
    yield database_url
    snomed.uninstall()
