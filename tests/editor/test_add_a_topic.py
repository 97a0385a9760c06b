"""Adding an article topic, as EDITING.md says, on a whole copy of the project.

The three steps (an entry in content/approved.yml, one line in
content/routing.yml, the examples in data/nlu/) and the one command
(``make routes``, i.e. ``python -m editorial.routes --write``) are all it takes: before the command,
`make validate` names it; after it, the copy validates, trains, answers the new
topic with its entry, and a medical question about the topic still goes to
medical_handoff (the cue detectors read the table: safety rule 2).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from editor_support import ROOT, append_entry, check, new_errors

SKIP = shutil.ignore_patterns(".git", ".venv", "models", "var", "results", ".rasa", "__pycache__", "*.pyc",
                              "bench-output", "reports", "test-output", ".pytest_cache", ".env", "node_modules")
VENV_BIN = Path(sys.executable).parent
ROUTE = "  parking:            {content: parking,            category: article_topic, cues: override, ends_form: yes}\n"
PLACES = ["the clinic", "Shasta Meadows", "your office", "the Redding clinic", "the infusion clinic"]
ASKS = ["where do I park at {}", "are there parking spaces at {}", "can I park my car at {}", "is parking free at {}",
        "where is the parking lot for {}", "do you have a car park at {}", "how is parking at {}"]
SAY_PARKING = "where do I park my car when I come to the clinic"
# A question about the new topic that is medical: a medicine and driving after the infusion.
SAY_MEDICAL = "can I drive out of your parking lot after my infusion if I take lithium"

# Talks to the copy's model the way the Rasa server does (its own response generator, tracker store).
CONVERSE = textwrap.dedent("""
    import asyncio, json, sys
    from rasa.core.agent import load_agent
    from rasa.core.utils import AvailableEndpoints

    async def main():
        agent = await load_agent("models/clinic.tar.gz", endpoints=AvailableEndpoints.read_endpoints("endpoints.yml"))
        out = {}
        for i, text in enumerate(sys.argv[1:]):
            sender = f"visitor-{i}"
            await agent.handle_text(text, sender_id=sender)
            tracker = await agent.tracker_store.retrieve(sender)
            bots = [e.metadata.get("content_id") for e in tracker.events if e.type_name == "bot"]
            out[text] = bots
        print("RESULT " + json.dumps(out))

    asyncio.run(main())
""")


def run(args: list, cwd: Path, env: dict, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def whole_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    shutil.copytree(ROOT, copy, ignore=SKIP)
    (copy / ".venv").symlink_to(ROOT / ".venv")
    return copy


def test_a_new_topic_is_three_edits_and_one_command(whole_copy: Path, tmp_path: Path):
    before = check(whole_copy)
    # 1. the approved text
    append_entry(whole_copy / "content/approved.yml", "parking", "Test wording about parking at the clinic.")
    # 2. one line in the routing table
    table = whole_copy / "content/routing.yml"
    table.write_text(table.read_text().replace("  # small talk\n", ROUTE + "  # small talk\n", 1))
    # 3. the examples
    examples = [ask.format(place) for ask in ASKS for place in PLACES]
    (whole_copy / "data/nlu/parking.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: parking\n  examples: |\n' + "".join(f"    - {e}\n" for e in examples))

    # Before the command, validation names it (and nothing else is missing).
    errors = new_errors(before, check(whole_copy))
    assert errors and {f.code for f in errors} == {"routing.generated_out_of_date"}, [f.format() for f in errors]
    assert all("make routes" in f.fix for f in errors)

    env = {k: v for k, v in os.environ.items() if k not in ("APPROVED_CONTENT", "CLINIC_CONFIG", "ROUTING_TABLE")}
    env.update(TRACKER_DB_URL=f"sqlite:///{tmp_path / 'rasa.db'}", CLINIC_DB_URL=f"sqlite:///{tmp_path / 'clinic.db'}",
               ACTION_SERVER_URL="http://127.0.0.1:9/webhook", RASA_TELEMETRY_ENABLED="false",
               SQLALCHEMY_SILENCE_UBER_WARNING="1")
    done = run([str(VENV_BIN / "python"), "-m", "editorial.routes", "--write"], whole_copy, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not new_errors(before, check(whole_copy))
    assert "  - parking\n" in (whole_copy / "domain.yml").read_text()
    assert "intent: parking" in (whole_copy / "data/rules/answers.yml").read_text()
    assert "intent: parking" in (whole_copy / "data/rules/form_exits.yml").read_text()

    done = run(["scripts/validate.sh"], whole_copy, env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]

    done = run([str(VENV_BIN / "rasa"), "train", "--fixed-model-name", "clinic", "--out", "models"], whole_copy, env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]

    done = run([str(VENV_BIN / "python"), "-c", CONVERSE, SAY_PARKING, SAY_MEDICAL], whole_copy, env)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert line, done.stdout[-3000:] + done.stderr[-3000:]
    replies = json.loads(line[len("RESULT "):])
    assert replies[SAY_PARKING] == ["parking"], replies
    assert replies[SAY_MEDICAL][0] == "medical_handoff", replies
