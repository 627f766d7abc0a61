"""`caregate subscriptions list|status|replay` on a store the server wrote, as an operator runs them."""

from __future__ import annotations

import json

import anyio
import orjson
from click.testing import CliRunner

from caregate.cli.main import cli
from caregate.storage import Write, open_store
from tests.subscriptions.conftest import Receiver, encounter, numbers, status_params, subscription, wait_until


async def _write(database_url: str, writes: list[list[Write]]) -> None:
    store = open_store(database_url)
    try:
        for batch in writes:
            await store.transact(batch)
    finally:
        await store.close()


def _sub(id_: str, body: dict) -> Write:
    return Write("update", "Subscription", id_, {**body, "id": id_})


def _enc(id_: str, status: str) -> Write:
    return Write("update", "Encounter", id_, encounter(id_, status))


def test_list_status_and_replay(database_url: str, receiver: Receiver) -> None:
    anyio.run(_write, database_url, [
        [_sub("adm", subscription("encounter-admission", endpoint=receiver.url, status="active"))],
        [_sub("dis", subscription("encounter-discharge", channel="websocket"))],
        [_enc("e1", "in-progress")], [_enc("e2", "in-progress")], [_enc("e1", "finished")],
    ])
    run = CliRunner().invoke

    listed = run(cli, ["subscriptions", "list", "--database", database_url])
    assert listed.exit_code == 0, listed.output
    rows = [line.split() for line in listed.output.splitlines()]
    assert rows[0][:5] == ["ID", "STATUS", "CHANNEL", "TOPIC", "EVENTS"]
    assert rows[1][:5] == ["adm", "active", "rest-hook", "encounter-admission", "2"]
    assert rows[1][5] == receiver.url
    assert rows[2][:5] == ["dis", "requested", "websocket", "encounter-discharge", "1"]

    topics = run(cli, ["subscriptions", "list", "--topics", "--database", database_url])
    assert "SubscriptionTopic/lab-result" in topics.output and "Observation: patient, subject, code, category" \
        in topics.output

    status = run(cli, ["subscriptions", "status", "adm", "--database", database_url])
    assert status.exit_code == 0, status.output
    params = status_params(json.loads(status.output)["entry"][0]["resource"] and json.loads(status.output))
    assert params["type"] == "query-status" and params["events-since-subscription-start"] == "2"

    replay = run(cli, ["subscriptions", "replay", "adm", "--since", "2", "--content", "full-resource",
                       "--database", database_url])
    assert replay.exit_code == 0, replay.output
    bundle = orjson.loads(replay.output)
    assert numbers(bundle) == [2] and bundle["entry"][1]["resource"]["id"] == "e2"

    sent = run(cli, ["subscriptions", "replay", "adm", "--deliver", "--database", database_url])
    assert sent.exit_code == 0 and "Delivered 2 events" in sent.output
    wait_until(lambda: receiver.bodies("event-notification"), what="the replayed notification")
    assert [numbers(b) for b in receiver.bodies("event-notification")] == [[1, 2]]

    missing = run(cli, ["subscriptions", "status", "nope", "--database", database_url])
    assert missing.exit_code != 0 and "Subscription/nope is not known" in missing.output
