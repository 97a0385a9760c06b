"""The production profile under test: PostgreSQL and Redis on 127.0.0.1 (as started by
scripts/system_deps.sh), two Rasa servers sharing them, the action server and the web app.

Every test session gets fresh PostgreSQL databases (dropped at the end) and its own
Redis key prefix, so nothing here touches another run's data. The database-outage
test starts a private PostgreSQL cluster of its own (:class:`PrivatePostgres`) so that
stopping it never disturbs anything else using the shared one.

PostgreSQL or Redis missing is a test failure, never a skip: run
``scripts/system_deps.sh`` (as root) first.
"""

from __future__ import annotations

import contextlib

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
import urllib.request
import uuid
import zlib
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest

from tests.conftest import MODEL, ROOT, Stack, free_port, make_stack

PG_HOST = os.environ.get("TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("TEST_PG_PORT", 5432))
PG_USER = os.environ.get("TEST_PG_USER", "clinic")
PG_PASSWORD = os.environ.get("TEST_PG_PASSWORD", "clinic-test-only")  # test-only role (system_deps.sh)
PG_ADMIN_DB = "clinic_test_tracker"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/1")
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
HOW_TO_FIX = "run scripts/system_deps.sh as root (make test does it first)"


def pg_url(db: str, host: str = PG_HOST, port: int = PG_PORT, user: str = PG_USER,
           password: Optional[str] = PG_PASSWORD) -> str:
    auth = f"{user}:{password}" if password else user
    return f"postgresql://{auth}@{host}:{port}/{db}"


def _admin_connection():
    import psycopg2

    conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, password=PG_PASSWORD,
                            dbname=PG_ADMIN_DB, connect_timeout=5)
    conn.autocommit = True
    return conn


class Databases:
    """Fresh PostgreSQL databases on the shared server, dropped at the end of the session."""

    def __init__(self) -> None:
        self.prefix = "prodtest_" + uuid.uuid4().hex[:8]
        self.created: List[str] = []

    def create(self, purpose: str) -> str:
        name = f"{self.prefix}_{purpose}"
        if name in self.created:
            name += f"_{len(self.created)}"
        conn = _admin_connection()
        try:
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        self.created.append(name)
        return pg_url(name)

    def drop_all(self) -> None:
        conn = _admin_connection()
        try:
            with conn.cursor() as cur:
                for name in self.created:
                    cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            conn.close()


@pytest.fixture(scope="session")
def services() -> None:
    """Fail (never skip) when PostgreSQL or Redis is not there."""
    try:
        _admin_connection().close()
    except Exception as e:
        pytest.fail(f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT} as '{PG_USER}' ({e}): {HOW_TO_FIX}")
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=5).ping()
    except Exception as e:
        pytest.fail(f"Redis is not reachable at {REDIS_URL} ({e}): {HOW_TO_FIX}")
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run `make train`")


@pytest.fixture(scope="session")
def databases(services) -> Iterator[Databases]:
    dbs = Databases()
    try:
        yield dbs
    finally:
        dbs.drop_all()


def redis_prefix() -> str:
    """A Redis lock-key prefix of this run (Rasa accepts only letters and digits)."""
    return "prodtest" + uuid.uuid4().hex[:10]


def prod_env(tracker_url: str, clinic_url: str, **extra: str) -> Dict[str, str]:
    env = {
        "TRACKER_DB_URL": tracker_url,
        "CLINIC_DB_URL": clinic_url,
        "REDIS_URL": REDIS_URL,
        "REDIS_LOCK_PREFIX": redis_prefix(),
        # A conversation whose server died mid-turn waits at most this long for its lock.
        "TICKET_LOCK_LIFETIME": "20",
        "LOG_LEVEL": "WARNING",
    }
    env.update(extra)
    return env


def model_settled(timeout: float = 300.0) -> None:
    """Wait while models/clinic.tar.gz is being rewritten (the lead retrains now and then)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            before = MODEL.stat().st_mtime
            with tarfile.open(MODEL, "r:gz") as tar:
                for member in tar:
                    if member.isfile():
                        tar.extractfile(member).read()
            if time.time() - before > 2 and MODEL.stat().st_mtime == before:
                return
        except (OSError, tarfile.TarError, EOFError, zlib.error):
            pass
        time.sleep(1)
    pytest.fail(f"{MODEL} did not settle in {timeout}s")


def start_rasa_servers(stack: Stack, names=("rasa",), attempts: int = 3) -> None:
    """Start Rasa servers in parallel; one that found no valid model (it was being rewritten)
    is started again."""
    pending = list(names)
    for attempt in range(attempts):
        model_settled()
        for name in pending:
            stack.start_rasa(name, wait=False)
        failed = []
        for name in pending:
            deadline = time.monotonic() + 240
            while True:
                log = stack.logs[name].read_text(errors="replace") if stack.logs[name].exists() else ""
                proc = stack.procs[name]
                if "No valid model found" in log.split("--- restart ---")[-1] or proc.poll() is not None:
                    failed.append(name)
                    break
                try:
                    with urllib.request.urlopen(f"{stack.url_of(name)}/status?token={stack.token}",
                                                timeout=2) as r:
                        if r.status == 200 and json.loads(r.read()).get("model_file"):
                            break
                except Exception:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"Rasa server {name} not ready; see {stack.logs[name]}")
                time.sleep(0.3)
        for name in failed:
            stack.stop(name)
            with open(stack.logs[name], "a") as f:
                f.write("\n--- restart ---\n")
        pending = failed
        if not pending:
            return
    raise RuntimeError(f"Rasa servers {pending} could not load {MODEL}")


def start_all(stack: Stack, rasa_names=("rasa",), web: bool = True) -> None:
    """Action server, the Rasa servers (loading in parallel) and, if asked, the web app."""
    stack.start_actions()
    start_rasa_servers(stack, rasa_names)
    if web:
        stack.start_web()


@pytest.fixture(scope="session")
def prod(databases, tmp_path_factory) -> Iterator[Stack]:
    """The production profile: two Rasa servers ("rasa", "rasa2") on shared PostgreSQL and Redis,
    the action server and the web app. Tests that stop a part start it again."""
    tracker_url, clinic_url = databases.create("tracker"), databases.create("clinic")
    stack = make_stack(tmp_path_factory.mktemp("prod"), **prod_env(tracker_url, clinic_url))
    try:
        start_all(stack, ("rasa", "rasa2"))
        yield stack
    finally:
        stack.stop_all()


@pytest.fixture
def sender() -> str:
    return "prod-" + uuid.uuid4().hex[:16]


def approved_text(content_id: str) -> str:
    from clinic.content import ApprovedContent

    return ApprovedContent.load().render(content_id).text


# --- a private PostgreSQL cluster, to stop and start at will -------------------------------

class PrivatePostgres:
    """A throw-away PostgreSQL cluster (initdb) on a free port, owned by the ``postgres`` user
    when the tests run as root (PostgreSQL refuses to run as root), else by the current user."""

    def __init__(self) -> None:
        if not (PG_BIN / "initdb").exists():
            pytest.fail(f"{PG_BIN}/initdb is missing (PostgreSQL server binaries): {HOW_TO_FIX}")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="clinic-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.dir, "postgres")
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-instructions")
        with open(self.data / "postgresql.conf", "a") as f:
            f.write(f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                    f"unix_socket_directories = '{self.dir}'\nfsync = off\n")

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = (["runuser", "-u", "postgres", "--"] if self.as_root else []) + list(args)
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed: {result.stderr or result.stdout}")
        return result

    def url(self, db: str) -> str:
        return pg_url(db, port=self.port, user="postgres", password=None)

    def start(self) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "immediate") -> None:
        """``immediate`` is what a crash looks like to clients: connections cut, no goodbye."""
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def create_db(self, name: str) -> str:
        self._run(str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                  "-c", f'CREATE DATABASE "{name}"')
        return self.url(name)

    def remove(self) -> None:
        self.stop("fast")
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def private_postgres(services) -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres()
    try:
        pg.start()
        yield pg
    finally:
        pg.remove()


class PrivateRedis:
    """A throw-away Redis on a free port (no persistence), to stop and start at will."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server")
        if not self.binary:
            pytest.fail(f"redis-server is missing: {HOW_TO_FIX}")
        self.port = free_port()
        self.proc: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/1"

    def start(self) -> None:
        import redis

        self.proc = subprocess.Popen([self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        assert wait_until(lambda: _pings(client), timeout=20), "private redis-server did not start"

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=20)


def _pings(client) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


@contextlib.contextmanager
def running_redis() -> Iterator[PrivateRedis]:
    """A private Redis for the duration of the block."""
    r = PrivateRedis()
    try:
        r.start()
        yield r
    finally:
        r.stop()


@pytest.fixture(scope="module")
def private_redis(services) -> Iterator[PrivateRedis]:
    with running_redis() as r:
        yield r


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


__all__ = ["ROOT", "Stack", "approved_text", "make_stack", "prod_env", "start_all", "wait_until"]
