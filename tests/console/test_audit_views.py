"""Every view of visitor data is audited: the callback queue (names, phones, emails), the
conversation list (previews of visitors' messages) and a full-text search, with who saw
which rows; the audit page can find them."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest

from tests.console.conftest import bot, seed_tracker, user

MARK = uuid.uuid4().hex[:6]
SEARCHED = f"lithium{MARK}"


@pytest.fixture(scope="module")
def seeded(console):
    from actions.callback_store import save_request
    from clinic.models import CallbackRequest

    now = dt.datetime.now().timestamp()
    seed_tracker(console.tracker_path, {
        f"audit-a-{MARK}": [user(f"I take {SEARCHED} daily", "medical_question", ts=now - 20),
                            bot("handoff", "medical_handoff", ts=now - 19)],
        f"audit-b-{MARK}": [user("what is ketamine", "what_is_ketamine", ts=now - 10),
                            bot("answer", "what_is_ketamine", ts=now - 9)],
    })
    assert save_request(CallbackRequest(conversation_id=f"audit-a-{MARK}", name="Quinn Auditson",
                                        contact="quinn@example.com", contact_kind="email"),
                        url=console.clinic_url)
    return console


def latest(app, action: str, actor: str):
    from webapp.console import audit

    entries, _ = audit.query(audit.AuditFilter(actor=actor, action=action), url=app.clinic_url)
    assert entries, f"no {action} entry by {actor}"
    return entries[0], json.loads(entries[0].detail)


def test_viewing_the_callback_queue_is_audited_with_the_requests_shown(seeded):
    from webapp.console import queue

    sam = seeded.signed_in("sam")
    r = sam.get("/staff/queue?view=all")
    assert r.status_code == 200 and "Quinn Auditson" in r.text
    entry, detail = latest(seeded, "queue_view", "sam")
    shown = {row.id for row in queue.list_requests("all", seeded.clinic_url)}
    assert entry.target == "callback_queue" and entry.role == "staff" and entry.ip
    assert detail["view"] == "all" and set(detail["requests"]) == shown


def test_the_conversation_list_is_audited_with_the_previews_shown(seeded):
    sam = seeded.signed_in("sam")
    r = sam.get("/staff/conversations")
    assert r.status_code == 200 and f"audit-b-{MARK}" in r.text
    entry, detail = latest(seeded, "conversation_list", "sam")
    assert entry.target == "conversations"
    assert {f"audit-a-{MARK}", f"audit-b-{MARK}"} <= set(detail["shown"])
    assert detail["matches"] >= 2 and detail["page"] == 1


def test_a_full_text_search_is_audited_with_its_words_and_matches(seeded):
    sam = seeded.signed_in("sam")
    r = sam.get(f"/staff/conversations?q={SEARCHED}")
    assert r.status_code == 200 and f"audit-a-{MARK}" in r.text
    entry, detail = latest(seeded, "conversation_search", "sam")
    assert detail["filters"]["q"] == SEARCHED
    assert detail["shown"] == [f"audit-a-{MARK}"] and detail["matches"] == 1
    # the admin's audit page offers the new actions and finds the entry
    ada = seeded.signed_in("ada")
    page = ada.get("/staff/audit?action=conversation_search&actor=sam")
    assert page.status_code == 200 and SEARCHED in page.text and 'value="queue_view"' in page.text
