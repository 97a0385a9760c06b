"""Log files of the running assistant: one per process, rotated daily and by size, purged by age.

Why: a log file that grows forever keeps whatever reached it forever, and a
clinic's logs must not outlive their use. The supervisor (``scripts/supervise.py``)
writes each process's output through :class:`RotatingLog`; the retention job
(``make retention``, and the daily purge ``make run`` runs) deletes rotated files
older than ``LOG_RETENTION_DAYS`` with :func:`purge`. Files are owner-only (0600).

Standard library only, like the rest of the core.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
from datetime import datetime
from pathlib import Path
from typing import List, Mapping, Optional, TextIO, Union

from clinic import settings

DEFAULT_MAX_BYTES = 10 * 1024 * 1024


def log_dir(environ: Optional[Mapping[str, str]] = None) -> Path:
    """Where the log files are: ``LOG_DIR`` (``var/log`` in the checkout)."""
    return settings.get_path("LOG_DIR", environ)


class RotatingLog:
    """An append-only text file that starts afresh each day and whenever it passes ``max_bytes``.

    The previous file is renamed ``NAME.log.YYYYmmdd-HHMMSS`` (when it was closed).
    Thread-safe: several output pumps may write at once.
    """

    def __init__(self, path: Union[str, Path], max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._day = ""
        self._file: TextIO = self._open()

    def _open(self) -> TextIO:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        file = open(self.path, "a", encoding="utf-8", errors="replace")
        os.chmod(self.path, 0o600)  # also a file left by an older version
        try:
            started = self.path.stat().st_mtime if self.path.stat().st_size else time.time()
        except OSError:
            started = time.time()
        self._day = datetime.fromtimestamp(started).strftime("%Y%m%d")
        return file

    def _rotate(self) -> None:
        self._file.close()
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        target = self.path.with_name(f"{self.path.name}.{stamp}")
        n = 1
        while target.exists():
            target = self.path.with_name(f"{self.path.name}.{stamp}-{n}")
            n += 1
        os.replace(self.path, target)
        self._file = self._open()

    def write(self, line: str) -> None:
        with self._lock:
            today = datetime.now().strftime("%Y%m%d")
            if (today != self._day and self._file.tell() > 0) or self._file.tell() >= self.max_bytes:
                self._rotate()
                self._day = today
            self._file.write(line if line.endswith("\n") else line + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


def error_summary(error: BaseException) -> str:
    """The error's type and the first line of its message, at most 200 characters.

    Why: a database error's later lines hold the SQL statement and its parameters, i.e. the
    visitor's message and contact details (the security review found them in the log); the
    first line says what failed ("database is locked", "connection refused").
    """
    lines = str(error).strip().splitlines()
    first = lines[0][:200] if lines else ""
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def where(error: BaseException) -> str:
    """Where ``error`` was raised: the traceback's frames without the message (no data in it)."""
    return "".join(traceback.format_tb(error.__traceback__)).rstrip()


def purge(directory: Union[str, Path], older_than_days: float) -> List[Path]:
    """Delete rotated log files (``*.log.*``) last written more than ``older_than_days`` ago.

    The live files (``*.log``) are never deleted: they are rotated daily, so what they
    hold is at most a day old. Returns the deleted paths.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    cutoff = time.time() - older_than_days * 86400
    deleted = []
    for path in sorted(directory.glob("*.log.*")):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                deleted.append(path)
        except OSError:
            continue
    return deleted
