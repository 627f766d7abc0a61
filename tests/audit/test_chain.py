"""`caregate audit verify` on both engines: an intact chain holds; an edited, deleted or reordered record is
named."""

from __future__ import annotations

import sqlite3

import pytest
from click.testing import CliRunner

from caregate.audit import AuditLog
from caregate.cli.main import cli


def _event(n: int) -> dict:
    return {"resourceType": "AuditEvent", "recorded": f"2026-01-01T00:00:{n:02d}.000Z", "action": "R",
            "outcome": "0", "entity": [{"what": {"reference": f"Patient/p{n}"}}]}


def _filled(url: str, n: int = 6) -> None:
    log = AuditLog(url)
    log.append([(_event(i), [f"p{i}"]) for i in range(1, 4)])  # one batch
    for i in range(4, n + 1):  # then one record at a time
        log.append([(_event(i), [f"p{i}"])])
    log.close()


def _tamper(url: str, sql: str, *args: object) -> None:
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url[len("sqlite:///"):]) as conn:
            conn.execute(sql, args)
    else:
        import psycopg

        with psycopg.connect(url) as conn:
            conn.execute(sql.replace("?", "%s"), args)


def _verify(url: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["audit", "verify", "--database", url])
    return result.exit_code, result.output


def test_intact_chain_verifies(database_url: str) -> None:
    _filled(database_url)
    assert _verify(database_url) == (0, "audit chain intact: 6 records\n")


def test_edited_record_is_named(database_url: str) -> None:
    _filled(database_url)
    _tamper(database_url, "UPDATE audit_event SET json = REPLACE(json, 'Patient/p4', 'Patient/p9') WHERE seq = 4")
    code, out = _verify(database_url)
    assert code == 1
    assert "BROKEN at record 4" in out and "edited" in out


def test_deleted_record_is_named(database_url: str) -> None:
    _filled(database_url)
    _tamper(database_url, "DELETE FROM audit_event WHERE seq = 3")
    code, out = _verify(database_url)
    assert code == 1
    assert "BROKEN at record 3" in out and "deleted" in out


@pytest.mark.parametrize("rehash", [False, True])
def test_reordered_records_are_named(database_url: str, rehash: bool) -> None:
    _filled(database_url)
    # swap records 2 and 5 (content and hash move together), through a free number
    _tamper(database_url, "UPDATE audit_event SET seq = 100 WHERE seq = 2")
    _tamper(database_url, "UPDATE audit_event SET seq = 2 WHERE seq = 5")
    _tamper(database_url, "UPDATE audit_event SET seq = 5 WHERE seq = 100")
    if rehash:  # the forger also rewrites the ids inside: the hashes then give it away
        _tamper(database_url, "UPDATE audit_event SET json = REPLACE(json, '\"id\":\"5\"', '\"id\":\"2\"') "
                              "WHERE seq = 2")
    code, out = _verify(database_url)
    assert code == 1
    assert "BROKEN at record 2" in out
    assert ("reordered" if not rehash else "edited") in out


def test_chain_continues_across_writers(database_url: str) -> None:
    _filled(database_url, 4)
    _filled(database_url, 4)  # a second server process appending to the same chain
    assert _verify(database_url) == (0, "audit chain intact: 8 records\n")
