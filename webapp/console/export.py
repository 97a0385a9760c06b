"""CSV exports of one conversation or of a filtered list of conversations.

Visitors type whatever they like, and a spreadsheet runs a cell that starts
with ``=``, ``+``, ``-`` or ``@`` (or a tab / carriage return before one) as
a formula: such cells are written with a leading apostrophe, so they open as
text (OWASP "CSV injection").
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any, Callable, Iterable, List, Sequence

from webapp.console.conversations import Row, TranscriptItem

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def safe_cell(value: Any) -> str:
    """The value as CSV text that a spreadsheet will not run as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return str(value)  # numbers (also negative ones) are data, not formulas
    text = str(value)
    if text.lstrip(" ").startswith(FORMULA_START) or text.startswith(FORMULA_START):
        return "'" + text
    return text


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    # A byte-order mark so spreadsheet programs read the UTF-8 correctly.
    return "\ufeff" + buf.getvalue()


def conversation_csv(sender_id: str, items: List[TranscriptItem], fmt: Callable[[Any], str]) -> str:
    header = ["conversation", "time", "speaker", "text", "intent", "confidence", "content_id",
              "content_version"]
    rows = []
    for item in items:
        if item.kind == "marker":
            rows.append([sender_id, fmt(item.ts), "event", item.text, "", "", "", ""])
        elif item.kind == "user":
            conf = "" if item.confidence is None else f"{item.confidence:.3f}"
            rows.append([sender_id, fmt(item.ts), "visitor", item.text, item.intent, conf, "", ""])
        else:
            # a staff member's message (live chat): who said it, by name
            speaker = f"staff: {item.staff_name or '?'}" if item.content_id == "staff_message" else "assistant"
            rows.append([sender_id, fmt(item.ts), speaker, item.text, "", "", item.content_id,
                         "" if item.content_version is None else item.content_version])
    return to_csv(header, rows)


def list_csv(rows: List[Row], fmt: Callable[[Any], str]) -> str:
    header = ["conversation", "first_activity", "last_activity", "visitor_messages", "crisis",
              "callback_requested", "fallback", "content_ids", "status", "tags", "note",
              "first_message"]
    return to_csv(header, ([
        r.summary.sender_id, fmt(r.summary.first_ts), fmt(r.summary.last_ts), r.summary.user_messages,
        r.summary.crisis, r.callback, r.summary.fallback, " ".join(sorted(r.summary.content_ids)),
        r.status, ", ".join(r.tags), r.note, r.summary.preview,
    ] for r in rows))


def filename(stem: str) -> str:
    """A safe file name for Content-Disposition."""
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._")[:80] or "export"
    return clean + ".csv"
