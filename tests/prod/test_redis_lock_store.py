"""addons/rasa_patches/redis_lock_store.py against Rasa's own RedisLockStore, on a real Redis:
the same lock in Redis after the same calls (either store reads the other's), and no ticket
issued twice when another server changes the lock in the middle of a change."""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Iterator, List

import pytest
from rasa.core.lock_store import RedisLockStore

from addons.rasa_patches.redis_lock_store import AtomicRedisLockStore
from tests.prod.conftest import PrivateRedis, running_redis


@pytest.fixture(scope="module")
def redis_server() -> Iterator[PrivateRedis]:
    """Only Redis (tests/prod/conftest.py's private_redis also wants PostgreSQL and a model)."""
    with running_redis() as r:
        yield r


def stores(redis_server: PrivateRedis, prefix: str):
    kwargs = dict(host="127.0.0.1", port=redis_server.port, db=1, key_prefix=prefix)
    return RedisLockStore(**kwargs), AtomicRedisLockStore(**kwargs)


def tickets(store: RedisLockStore, conversation: str) -> List[int]:
    lock = store.get_lock(conversation)
    return [t.number for t in lock.tickets] if lock else []


def test_the_same_calls_leave_the_same_lock_as_rasas_store(redis_server):
    rasa_store, _ = stores(redis_server, "rasa" + uuid.uuid4().hex[:6])
    _, ours = stores(redis_server, "ours" + uuid.uuid4().hex[:6])
    results = []
    for store in (rasa_store, ours):
        issued = [store.issue_ticket("c1") for _ in range(3)]
        store.finish_serving("c1", issued[0])
        store.update_lock("c1")
        after_finish = tickets(store, "c1")
        for number in issued[1:]:
            store.cleanup("c1", number)
        results.append((issued, after_finish, store.get_lock("c1") is None or not tickets(store, "c1")))
    assert results[0] == results[1] == ([0, 1, 2], [1, 2], True)


def test_each_reads_the_lock_the_other_wrote(redis_server):
    rasa_store, ours = stores(redis_server, "mixed" + uuid.uuid4().hex[:6])
    first = rasa_store.issue_ticket("c2")
    second = ours.issue_ticket("c2")
    third = rasa_store.issue_ticket("c2")
    assert (first, second, third) == (0, 1, 2)
    assert tickets(ours, "c2") == tickets(rasa_store, "c2") == [0, 1, 2]


def test_rasas_lock_context_serves_conversations_in_turn_with_our_store(redis_server):
    _, ours = stores(redis_server, "ctx" + uuid.uuid4().hex[:6])
    order: List[str] = []

    async def turn(name: str, hold: float) -> None:
        async with ours.lock("c3", lock_lifetime=5):
            order.append(name + " in")
            await asyncio.sleep(hold)
            order.append(name + " out")

    async def both() -> None:
        first = asyncio.ensure_future(turn("a", 0.3))
        await asyncio.sleep(0.05)
        await asyncio.gather(first, turn("b", 0))

    asyncio.run(both())
    assert order == ["a in", "a out", "b in", "b out"]
    assert not tickets(ours, "c3")


def test_a_change_made_by_another_server_meanwhile_is_never_overwritten(redis_server):
    """Server B issues a ticket while server A is between reading and writing the lock: with
    Rasa's GET-then-SET both would hold ticket 0; here A's transaction notices and runs again."""
    prefix = "race" + uuid.uuid4().hex[:6]
    _, server_a = stores(redis_server, prefix)
    _, server_b = stores(redis_server, prefix)
    seen_by_b: List[int] = []
    original = server_a._change

    def change_with_b_in_between(conversation, change):
        def meddled(lock):
            if not seen_by_b:  # only during A's first attempt
                seen_by_b.append(server_b.issue_ticket(conversation))
            return change(lock)
        return original(conversation, meddled)

    server_a._change = change_with_b_in_between  # type: ignore[method-assign]
    a_ticket = server_a.issue_ticket("c4")
    assert seen_by_b == [0] and a_ticket == 1
    assert tickets(server_a, "c4") == [0, 1]


def test_many_servers_at_once_never_share_a_ticket(redis_server):
    prefix = "many" + uuid.uuid4().hex[:6]
    servers = [stores(redis_server, prefix)[1] for _ in range(8)]
    start = threading.Barrier(len(servers))
    issued: List[int] = []
    guard = threading.Lock()

    def take(store: AtomicRedisLockStore) -> None:
        start.wait()
        for _ in range(10):
            number = store.issue_ticket("c5", lock_lifetime=30)
            with guard:
                issued.append(number)

    threads = [threading.Thread(target=take, args=(s,)) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(issued) == list(range(80))
