"""Retention: delete conversations and callback requests older than N days.

    python -m webapp.console.retention --days 180      # default: RETENTION_DAYS or 180
    python -m webapp.console.retention --dry-run       # only count

A conversation is old when its *latest* event is older than the cutoff; then
all its events go (every session of that sender), with the console's note on
it. Callback requests go when they were made before the cutoff. The audit log
records how many of each were deleted (it is not itself purged). Rotated log files
older than ``LOG_RETENTION_DAYS`` (30) are deleted too.

This is the one place that writes to Rasa's tracker store. ``make run`` and
``make run-prod`` run it daily (``--every-hours 24``, a process their supervisor keeps
running; the first purge ``RETENTION_FIRST_RUN_SECONDS`` after start). Run the parts
yourself, and it is yours to schedule on one host, for example from cron:
``15 3 * * * cd /srv/clinic && .venv/bin/python -m webapp.console.retention``.

On SQLite, deleted rows are overwritten (``secure_delete``) and the write-ahead log is
emptied afterwards (``wal_checkpoint(TRUNCATE)``): without that, a purged visitor's email
stayed readable in ``rasa.db-wal`` (and in the database file's free pages).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
import threading
import time
from dataclasses import asdict, dataclass
from typing import List, Optional

from sqlalchemy import bindparam, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from clinic import logfiles, settings
from clinic.models import CallbackRequest, ConversationReview, session_factory, utcnow
from webapp.console import audit
from webapp.console.conversations import tracker_db_url

logger = logging.getLogger(__name__)

DEFAULT_DAYS = 180
CHUNK = 500

OLD_SENDERS = ("SELECT sender_id FROM events GROUP BY sender_id "
               "HAVING MAX(timestamp) < :cutoff")
DELETE_OLD = text(
    "DELETE FROM events WHERE sender_id IN :senders AND NOT EXISTS ("
    "SELECT 1 FROM events AS newer WHERE newer.sender_id = events.sender_id "
    "AND (newer.timestamp >= :cutoff OR newer.timestamp IS NULL))"
).bindparams(bindparam("senders", expanding=True))
STILL_THERE = text("SELECT DISTINCT sender_id FROM events WHERE sender_id IN :senders").bindparams(
    bindparam("senders", expanding=True))


def default_days() -> int:
    try:
        return settings.get_int("RETENTION_DAYS")
    except settings.SettingsError as e:
        raise SystemExit(f"{e} (days)")


@dataclass
class PurgeResult:
    days: int
    cutoff: str
    conversations: int = 0
    events: int = 0
    callback_requests: int = 0
    reviews: int = 0
    dry_run: bool = False


def _overwrite_deleted(dbapi_connection, _record) -> None:
    """SQLite: deleted content is zeroed, not left in free pages (per connection)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA secure_delete = ON")
    cursor.close()


def empty_wal(conn, attempts: int = 10) -> bool:
    """SQLite: copy the write-ahead log into the database and truncate it; True when done.

    A reader in the middle of a transaction (the console, Rasa) keeps the log busy for a
    moment: try again for about two seconds, then say so in the log (counts, no content).
    """
    if conn.dialect.name != "sqlite":
        return True
    for attempt in range(attempts):
        busy, _log, _done = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
        if not busy:
            return True
        time.sleep(0.2)
    logger.warning("Retention: the SQLite write-ahead log could not be emptied (a reader kept it busy); "
                   "it is emptied at the next checkpoint")
    return False


def _tracker_exists(url: str) -> bool:
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        return bool(parsed.database) and os.path.exists(parsed.database)
    return True


def purge(days: int, actor: str, ip: str = "", role: str = "", dry_run: bool = False,
          tracker_url: Optional[str] = None, clinic_url: Optional[str] = None,
          now: Optional[dt.datetime] = None) -> PurgeResult:
    """Delete what is older than ``days`` days (or only count it); audited either way."""
    if days < 1:
        raise ValueError("days must be at least 1")
    now = now or utcnow()
    cutoff = now - dt.timedelta(days=days)
    cutoff_ts = cutoff.replace(tzinfo=dt.timezone.utc).timestamp()
    result = PurgeResult(days=days, cutoff=cutoff.isoformat(timespec="seconds") + "Z", dry_run=dry_run)
    tracker_url = tracker_url or tracker_db_url()

    gone: List[str] = []
    if _tracker_exists(tracker_url):
        engine = create_engine(tracker_url, future=True, hide_parameters=True)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _overwrite_deleted)
        try:
            with engine.connect() as conn:
                try:
                    senders = [r[0] for r in conn.execute(text(OLD_SENDERS), {"cutoff": cutoff_ts})]
                except SQLAlchemyError as e:
                    if "no such table" in str(e).lower() or "does not exist" in str(e).lower():
                        senders = []
                    else:
                        raise
                conn.rollback()
                for start in range(0, len(senders), CHUNK):
                    chunk = senders[start:start + CHUNK]
                    if dry_run:
                        result.events += conn.execute(
                            text("SELECT COUNT(*) FROM events WHERE sender_id IN :senders").bindparams(
                                bindparam("senders", expanding=True)), {"senders": chunk}).scalar_one()
                        gone.extend(chunk)
                        continue
                    with conn.begin():
                        deleted = conn.execute(DELETE_OLD, {"senders": chunk, "cutoff": cutoff_ts})
                        result.events += max(deleted.rowcount or 0, 0)
                        survivors = {r[0] for r in conn.execute(STILL_THERE, {"senders": chunk})}
                    gone.extend(s for s in chunk if s not in survivors)
                if senders and not dry_run:
                    empty_wal(conn)
        finally:
            engine.dispose()
    result.conversations = len(gone)

    with session_factory(clinic_url)() as session:
        old_requests = session.query(CallbackRequest).filter(CallbackRequest.created_at < cutoff)
        reviews = session.query(ConversationReview)
        if dry_run:
            result.callback_requests = old_requests.count()
            result.reviews = sum(reviews.filter(ConversationReview.sender_id.in_(gone[i:i + CHUNK])).count()
                                 for i in range(0, len(gone), CHUNK))
        else:
            if session.bind.dialect.name == "sqlite":
                session.execute(text("PRAGMA secure_delete = ON"))  # names, phones, emails: zeroed
            result.callback_requests = old_requests.delete(synchronize_session=False)
            for i in range(0, len(gone), CHUNK):
                result.reviews += (reviews.filter(ConversationReview.sender_id.in_(gone[i:i + CHUNK]))
                                   .delete(synchronize_session=False))
            session.commit()
            if session.bind.dialect.name == "sqlite":
                if str(session.execute(text("PRAGMA journal_mode")).scalar()).lower() == "wal":
                    with session.bind.connect() as conn:
                        empty_wal(conn)

    if not dry_run:  # and the logs' rotated files past LOG_RETENTION_DAYS (clinic/logfiles.py)
        removed = logfiles.purge(logfiles.log_dir(), settings.get_float("LOG_RETENTION_DAYS"))
        if removed:
            logger.info("Retention: %d rotated log files deleted", len(removed))
    detail = asdict(result)
    if dry_run:
        logger.info("Retention dry run (%d days): %s", days, detail)
    else:
        audit.record(actor, "purge", f"older_than:{days}d", detail, ip=ip, role=role, url=clinic_url)
        logger.info("Retention purge by %s (%d days): %s", actor, days, detail)
    return result


SCHEDULE_ACTOR = "retention-schedule"


def run_every(hours: float, days: int, first_after: float, stop: Optional[threading.Event] = None) -> None:
    """Purge now (after ``first_after`` seconds), then every ``hours``, until ``stop`` is set.

    How ``make run``/``make run-prod`` schedule it. A failed purge (a database away for a
    moment) is logged by its first line and tried again at the next hour, never ends the loop.
    """
    stop = stop or threading.Event()
    logger.info("Retention: purging what is older than %d days every %g hour(s), first in %ds",
                days, hours, first_after)
    wait = max(0.0, first_after)
    while not stop.wait(wait):
        try:
            result = purge(days, SCHEDULE_ACTOR)
            logger.info("Retention: deleted %d conversation(s), %d callback request(s)",
                        result.conversations, result.callback_requests)
            wait = hours * 3600
        except Exception as e:  # noqa: BLE001 - the schedule must survive a bad moment
            logger.error("Retention purge failed (%s: %s); trying again in an hour", type(e).__name__,
                         str(e).splitlines()[0][:200] if str(e) else "")
            wait = min(hours * 3600, 3600)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m webapp.console.retention", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=None,
                        help=f"keep this many days (default: RETENTION_DAYS or {DEFAULT_DAYS})")
    parser.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
    parser.add_argument("--every-hours", type=float, default=None,
                        help="keep running and purge every this many hours (make run: 24)")
    parser.add_argument("--first-after-seconds", type=float, default=None,
                        help="with --every-hours: seconds before the first purge (RETENTION_FIRST_RUN_SECONDS)")
    args = parser.parse_args(argv)
    days = args.days if args.days is not None else default_days()
    if days < 1:
        print("error: --days must be at least 1", file=sys.stderr)
        return 2
    if args.every_hours is not None:
        if args.every_hours <= 0 or args.dry_run:
            print("error: --every-hours must be above 0 (and is not a dry run)", file=sys.stderr)
            return 2
        first = (args.first_after_seconds if args.first_after_seconds is not None
                 else settings.get_float("RETENTION_FIRST_RUN_SECONDS"))
        stop = threading.Event()
        import signal

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        run_every(args.every_hours, days, first, stop)
        return 0
    from webapp.console.accounts import _cli_actor

    result = purge(days, _cli_actor(), dry_run=args.dry_run)
    verb = "Would delete" if args.dry_run else "Deleted"
    print(f"{verb} {result.conversations} conversation(s) ({result.events} events), "
          f"{result.callback_requests} callback request(s) and {result.reviews} review note(s) "
          f"older than {days} days (before {result.cutoff}).")
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=settings.get("LOG_LEVEL"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(main())
