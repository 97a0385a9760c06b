"""clinic.models: the tables come up even when another process creates them at the same moment
(CI saw the web app and a test's own session race on one SQLite file: "table login_throttle already
exists")."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, inspect
from sqlalchemy.exc import OperationalError

from clinic import models


def racing_engines(tmp_path: Path):
    """Two engines on one file; the second process creates every table just before the first
    issues its CREATE for login_throttle (after its own "does it exist?" said no)."""
    url = f"sqlite:///{tmp_path / 'clinic.db'}"
    mine, other = create_engine(url, future=True), create_engine(url, future=True)
    table = models.Base.metadata.tables["login_throttle"]
    raced = []

    def other_process_wins(target, connection, **kw):
        if not raced:
            raced.append(True)
            models.Base.metadata.create_all(other)

    event.listen(table, "before_create", other_process_wins)
    return mine, raced, lambda: event.remove(table, "before_create", other_process_wins)


def test_plain_create_all_loses_the_race(tmp_path):
    """The failure CI saw, reproduced (so the next test proves the fix, not luck)."""
    mine, raced, done = racing_engines(tmp_path)
    try:
        with pytest.raises(OperationalError, match="already exists"):
            models.Base.metadata.create_all(mine)
    finally:
        done()
    assert raced


def test_create_tables_survives_the_race(tmp_path):
    mine, raced, done = racing_engines(tmp_path)
    try:
        models.create_tables(mine)
    finally:
        done()
    assert raced
    assert set(models.Base.metadata.tables) <= set(inspect(mine).get_table_names())


def test_other_database_errors_are_not_swallowed(tmp_path):
    read_only = tmp_path / "ro"
    read_only.mkdir()
    (read_only / "clinic.db").write_bytes(b"this is not a database")
    with pytest.raises(Exception, match="not a database"):
        models.create_tables(create_engine(f"sqlite:///{read_only / 'clinic.db'}", future=True))
