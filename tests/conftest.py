"""Shared fixtures: a fresh database per test on each engine, the ASGI app, and the shared data folder."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.pgcluster import PgCluster

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    cluster = PgCluster()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty database on each engine: the storage contract holds on both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/caregate.db"
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database(f"t{next(_counter)}")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/caregate.db"


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: the official definitions and test data live there")
    return SHARED


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client(database_url: str) -> AsyncIterator:
    """An httpx client talking to the real ASGI app (no sockets), on each engine."""
    import httpx

    from caregate.app import build
    from caregate.config import Settings

    settings = Settings.from_env(env={}, database_url=database_url, port=8080, no_auth=True)  # auth: tests/auth
    app = build(settings, access_log=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as c:
        yield c
    await app.app.fhir.store.close()
