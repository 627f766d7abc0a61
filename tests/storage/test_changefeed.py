"""The change feed: the log in `t` order, each change handed out only once no earlier one can still commit."""

from __future__ import annotations

import anyio
import psycopg
import pytest

from caregate.storage import Write, open_store
from caregate.storage.postgres import PostgresStore

pytestmark = pytest.mark.anyio


def pat(family: str) -> dict:
    return {"resourceType": "Patient", "name": [{"family": family}]}


async def test_the_feed_gives_whole_transactions_in_order_and_never_a_rolled_back_one(database_url: str) -> None:
    store = open_store(database_url)
    try:
        first = await store.transact([Write("update", "Patient", "a", pat("A")), Write("update", "Patient", "b",
                                                                                        pat("B"))])
        with pytest.raises(Exception, match="version"):  # a failed precondition rolls the whole write back
            await store.transact([Write("update", "Patient", "c", pat("C")),
                                  Write("update", "Patient", "a", pat("A2"), if_match=7)])
        await store.transact([Write("delete", "Patient", "b")])
        feed = store.change_feed(0)
        try:
            assert await feed.head() >= first[0].t
            seen = []
            while True:
                before = feed.cursor
                seen += await feed.next(1)  # one transaction at a time: never cut in the middle
                if feed.cursor == before and not feed.settling:
                    break
            assert [(c.type, c.id, c.version, c.method) for c in seen] == [
                ("Patient", "a", 1, "create"), ("Patient", "b", 1, "create"), ("Patient", "b", 2, "delete")]
            assert seen[0].t == seen[1].t < seen[2].t
        finally:
            await feed.close()
    finally:
        await store.close()


async def test_a_commit_wakes_a_waiting_reader(database_url: str) -> None:
    store = open_store(database_url)
    feed = store.change_feed(0)
    try:
        await feed.next()
        await feed.wait(0.01)  # the first wait starts listening
        woke = anyio.Event()

        async def reader() -> None:
            while not await feed.next():
                await feed.wait(30)  # far longer than the test may take: only the commit can end it
            woke.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(reader)
            await anyio.sleep(0.05)
            await store.transact([Write("update", "Patient", "w", pat("W"))])
            with anyio.fail_after(20):
                await woke.wait()
    finally:
        await feed.close()
        await store.close()


@pytest.mark.parametrize("outcome", ["commit", "rollback"])
async def test_postgres_holds_back_a_later_commit_until_the_earlier_transaction_ends(pg_cluster, outcome: str) -> None:
    """Transaction A takes t, B takes t+1 and commits first: B waits for A's commit (then both, in order)
    or A's rollback (then B alone), however long A takes."""
    url = pg_cluster.create_database(f"feed_{outcome}")
    store = PostgresStore(url)
    feed = store.change_feed(0)
    try:
        await store.transact([Write("update", "Patient", "x", pat("X"))])
        assert [c.id for c in await feed.next()] == ["x"]
        holder = psycopg.connect(url)
        try:
            store.core.transact(holder, [Write("update", "Patient", "slow", pat("Slow"))])  # t taken, not committed
            await store.transact([Write("update", "Patient", "fast", pat("Fast"))])
            for _ in range(5):
                assert await feed.next() == []
                assert feed.settling
                await anyio.sleep(0.02)
            if outcome == "commit":
                holder.commit()
            else:
                holder.rollback()
        finally:
            holder.close()
        got = []
        with anyio.fail_after(10):
            while len(got) < (2 if outcome == "commit" else 1):
                got += await feed.next()
                await feed.wait(0.05)
        assert [c.id for c in got] == (["slow", "fast"] if outcome == "commit" else ["fast"])
        assert not feed.settling
    finally:
        await feed.close()
        await store.close()


async def test_postgres_is_not_held_back_by_transactions_in_other_databases(pg_cluster) -> None:
    url = pg_cluster.create_database("feed_mine")
    other = psycopg.connect(pg_cluster.create_database("feed_other"))
    store = PostgresStore(url)
    feed = store.change_feed(0)
    try:
        other.execute("CREATE TABLE busy (x int)")
        other.execute("INSERT INTO busy VALUES (1)")  # holds a transaction id, uncommitted, for the whole test
        await store.transact([Write("update", "Patient", "a", pat("A"))])
        holder = psycopg.connect(url)
        try:  # a hole (rolled back) below the next write: final once its holder has ended, whatever `other` does
            store.core.transact(holder, [Write("update", "Patient", "gone", pat("Gone"))])
            await store.transact([Write("update", "Patient", "b", pat("B"))])
            holder.rollback()
        finally:
            holder.close()
        got = []
        with anyio.fail_after(10):
            while len(got) < 2:
                got += await feed.next()
                await feed.wait(0.05)
        assert [c.id for c in got] == ["a", "b"]
        assert await feed.head() >= got[-1].t
    finally:
        other.close()
        await feed.close()
        await store.close()


async def test_postgres_feed_under_concurrent_writers_and_rollbacks_misses_nothing(pg_cluster) -> None:
    """Writers commit and roll back at random while the feed follows: it hands out exactly the committed
    changes, each once, in `t` order."""
    import random
    import threading

    url = pg_cluster.create_database("feed_stress")
    store = PostgresStore(url)
    feed = store.change_feed(0)
    done = threading.Event()

    def writer(k: int) -> None:
        rng = random.Random(k)
        with psycopg.connect(url) as conn:
            for n in range(40):
                store.core.transact(conn, [Write("update", "Patient", f"w{k}-{n}", pat(f"W{k}"))])
                if rng.random() < 0.005 * n:
                    import time

                    time.sleep(rng.random() / 50)  # in flight while later transactions commit
                if rng.random() < 0.25:
                    conn.rollback()
                else:
                    conn.commit()

    try:
        threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
        for th in threads:
            th.start()
        got = []

        async def follow() -> None:
            while True:
                finished = done.is_set()  # every writer has ended: read on until nothing is left or held
                more = await feed.next(7)
                got.extend(more)
                if finished and not more and not feed.settling:
                    return
                await feed.wait(0.01)

        async with anyio.create_task_group() as tg:
            tg.start_soon(follow)
            await anyio.to_thread.run_sync(lambda: [th.join() for th in threads])
            done.set()
        committed = await store.changes(0, 10_000)
        assert [(c.t, c.id) for c in got] == [(c.t, c.id) for c in committed]
        assert len(committed) > 80
    finally:
        await feed.close()
        await store.close()


async def test_postgres_is_not_held_back_by_writes_still_doing_their_work(pg_cluster) -> None:
    """A write takes its `t` only at its end, so a long transaction still at its work (here: one that has
    written but not finished) holds no number, and a hole left by a rolled-back write is passed as soon as
    that write has ended, without waiting for the long one."""
    url = pg_cluster.create_database("feed_long")
    store = PostgresStore(url)
    feed = store.change_feed(0)
    long = psycopg.connect(url)
    try:
        await store.transact([Write("update", "Patient", "a", pat("A"))])
        long.execute("INSERT INTO schema_version (version) SELECT version FROM schema_version LIMIT 1")  # in flight
        holder = psycopg.connect(url)
        try:
            store.core.transact(holder, [Write("update", "Patient", "gone", pat("Gone"))])  # took its t
            await store.transact([Write("update", "Patient", "b", pat("B"))])
            assert [c.id for c in await feed.next()] == ["a"] and feed.settling  # "gone" may still commit
            holder.rollback()
        finally:
            holder.close()
        got = []
        with anyio.fail_after(10):
            while not got:
                got += await feed.next()
                await feed.wait(0.02)
        assert [c.id for c in got] == ["b"]
        assert await feed.head() >= got[-1].t
    finally:
        long.rollback()
        long.close()
        await feed.close()
        await store.close()


async def test_a_waiting_reader_stops_when_cancelled_even_as_a_commit_wakes_it(tmp_path) -> None:
    """Cancelling a reader that polls the feed ends it, also when a commit's wake-up lands in the same turn of
    the event loop (asyncio.wait_for on Python 3.11 swallowed that cancellation, and shutdown hung)."""
    import asyncio

    store = open_store(f"sqlite:///{tmp_path / 'feed.db'}")
    feed = store.change_feed(0)
    try:
        for _ in range(50):
            async def poll() -> None:
                while True:
                    await feed.wait(0.02)

            task = asyncio.create_task(poll())
            await asyncio.sleep(0.001)
            feed._woken()  # what the store calls after each commit
            await asyncio.sleep(0)
            await asyncio.sleep(0)  # the wake-up is delivered: the wait is about to return
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=5)
            assert done == {task} and task.cancelled()
    finally:
        await feed.close()
        await store.close()
