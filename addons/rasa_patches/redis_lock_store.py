"""Rasa 3.6.21's ``RedisLockStore`` with each change of a ticket lock made atomic.

Rasa's store changes a conversation's ticket lock with a plain read-modify-write
(GET, change, SET). Two Rasa servers taking a ticket for the same conversation
at the same moment can both read the same lock, both issue ticket N and both
handle a message at once: events interleave and one turn is lost.
:class:`AtomicRedisLockStore` makes each change one Redis transaction
(WATCH/MULTI/EXEC, retried on conflict) and polls every 50 ms instead of every
second. The lock's JSON and key layout are Rasa's own, so a server running
Rasa's store and one running this one read each other's locks.

It overrides ``issue_ticket``, ``update_lock``, ``finish_serving``, ``cleanup``
and ``lock``'s poll interval as 3.6.21 defines them (``rasa/core/lock_store.py``);
the constructor refuses another Rasa (:func:`check`).
tests/prod/test_redis_lock_store.py shows it stores what Rasa's store stores and
never issues one ticket twice under concurrent servers.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any, Callable, Optional, Text, Tuple, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore

from addons.rasa_patches import require

T = TypeVar("T")


def check() -> None:
    require("redis_lock_store")


LOCK_POLL_SECONDS = 0.05


class AtomicRedisLockStore(RedisLockStore):
    """Rasa's Redis ticket lock with every change made atomically (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        check()
        super().__init__(*args, **kwargs)

    def _change(self, conversation_id: Text,
                change: Callable[[Optional[TicketLock]], Tuple[Optional[TicketLock], T]]) -> T:
        """Read the lock, apply ``change`` and write the result, as one Redis transaction.

        ``change`` returns the new lock (``None`` or no tickets: delete it) and a value to return.
        """
        key = self.key_prefix + conversation_id

        def transaction(pipe: Any) -> T:
            raw = pipe.get(key)
            lock = TicketLock.from_dict(json.loads(raw)) if raw else None
            new, value = change(lock)
            pipe.multi()
            if new is None or not new.tickets:
                pipe.delete(key)
            else:
                # Expires on its own when every holder died (kill -9) and nobody came back.
                ttl = max(1, math.ceil(max(t.expires for t in new.tickets) - time.time())) + 60
                pipe.set(key, new.dumps(), ex=ttl)
            return value

        return self.red.transaction(transaction, key, value_from_callable=True)

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def take(lock: Optional[TicketLock]) -> Tuple[TicketLock, int]:
            lock = lock or self.create_lock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        try:
            return self._change(conversation_id, take)
        except Exception as e:
            raise LockError(f"Error while acquiring lock. Error:\n{e}") from e

    def update_lock(self, conversation_id: Text) -> None:
        def drop_expired(lock: Optional[TicketLock]) -> Tuple[Optional[TicketLock], None]:
            if lock:
                lock.remove_expired_tickets()
            return lock, None

        self._change(conversation_id, drop_expired)

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        def done(lock: Optional[TicketLock]) -> Tuple[Optional[TicketLock], None]:
            if lock:
                lock.remove_ticket_for(ticket_number)
                lock.remove_expired_tickets()
            return lock, None

        self._change(conversation_id, done)

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        # Removing the ticket and deleting an empty lock are one step: a ticket
        # issued meanwhile by another server is never deleted with it.
        self.finish_serving(conversation_id, ticket_number)

    def lock(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME,
             wait_time_in_seconds: float = LOCK_POLL_SECONDS) -> Any:
        return super().lock(conversation_id, lock_lifetime, wait_time_in_seconds)
