"""clinic/settings.py: the one reader of the environment and of .env, shared with the scripts and the widget."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from clinic import settings
from tests.support import ROOT


def test_the_env_file_parser_reads_what_people_write():
    text = ("# a comment\n\nRASA_PORT=6005\r\nexport WEB_PORT=6080\nSESSION_SECRET='with = sign'\n"
            'QUOTED="two words"\nnot a line\n  SPACED = x \n')
    assert settings.parse_env_file(text) == {"RASA_PORT": "6005", "WEB_PORT": "6080", "SESSION_SECRET": "with = sign",
                                             "QUOTED": "two words", "SPACED": "x"}


def test_the_environment_wins_and_derived_defaults_follow_it():
    env = {"ACTION_PORT": "6055", "WEB_PORT": "", "MAX_MESSAGE_CHARS": "1500"}
    assert settings.get("ACTION_SERVER_URL", env) == "http://127.0.0.1:6055/webhook"
    assert settings.get("WEB_PORT", env) == "8080"  # empty is unset
    assert settings.get_int("MAX_MESSAGE_CHARS", env) == 1500
    assert settings.get("RASA_URL", {}) == "http://127.0.0.1:5005"
    with pytest.raises(settings.SettingsError, match="RASA_PORT must be a whole number"):
        settings.get_int("RASA_PORT", {"RASA_PORT": "five"})


ENV_READ = re.compile(r"os\.environ\.get\(|os\.environ\[[^\]]+\](?!\s*=)|os\.getenv\(")


def test_every_setting_read_in_the_code_has_a_default_here():
    """No module of the running clinic reads the environment itself: clinic.settings is the one reader
    (only the bench and eval tools read their own BENCH_*/EVAL_* knobs)."""
    offenders = []
    for folder in ("actions", "addons", "editorial", "webapp", "clinic", "semantics"):
        for path in (ROOT / folder).rglob("*.py"):
            if path == ROOT / "clinic" / "settings.py":
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if ENV_READ.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "read these through clinic.settings (a Setting with its default):\n" + "\n".join(offenders)


def test_the_check_above_sees_an_environment_read():
    assert ENV_READ.search('x = os.environ.get("SESSION_SECRET", "")')
    assert ENV_READ.search("x = os.environ['RASA_PORT']")
    assert not ENV_READ.search('os.environ["CLINIC_DB_URL"] = url')  # setting it for a library is not reading


@pytest.fixture
def scripts_copy(tmp_path: Path) -> Path:
    """What scripts/env.sh needs, in a folder of its own (its .env and var/ are the copy's)."""
    for folder in ("clinic", "scripts"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    return tmp_path


def sourced(copy: Path, command: str, **env: str) -> str:
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    done = subprocess.run(["bash", "-c", f"set -e; . scripts/env.sh; {command}"], cwd=copy, env={**base, **env},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def test_make_run_remembers_its_ports_and_reload_and_shell_follow_them(scripts_copy: Path):
    assert sourced(scripts_copy, "echo $RASA_URL") == "http://127.0.0.1:5005"
    assert not (scripts_copy / "var" / "ports.env").exists()  # only `make run` writes it
    sourced(scripts_copy, "true", CLINIC_REMEMBER_PORTS="1", RASA_PORT="7105", ACTION_PORT="7155")
    assert "RASA_PORT=7105" in (scripts_copy / "var" / "ports.env").read_text()
    followed = sourced(scripts_copy, "echo $RASA_URL $ACTION_PORT", CLINIC_FOLLOW_RUN="1")
    assert followed == "http://127.0.0.1:7105 7155"
    # without following (make validate, make train...), the defaults
    assert sourced(scripts_copy, "echo $RASA_URL") == "http://127.0.0.1:5005"


def test_secrets_are_generated_once_into_dot_env_and_never_printed(scripts_copy: Path):
    first = subprocess.run(["bash", "-c", ". scripts/env.sh; echo $RASA_AUTH_TOKEN"], cwd=scripts_copy,
                           env={"PATH": os.environ["PATH"]}, capture_output=True, text=True, timeout=60)
    token = first.stdout.strip()
    assert len(token) >= 32 and token not in first.stderr
    assert f"RASA_AUTH_TOKEN={token}" in (scripts_copy / ".env").read_text()
    assert oct((scripts_copy / ".env").stat().st_mode)[-3:] == "600"
    assert sourced(scripts_copy, "echo $RASA_AUTH_TOKEN") == token


def test_the_widget_gets_the_servers_message_limit(stack):
    with urllib.request.urlopen(f"{stack.web_url}/", timeout=30) as r:
        page = r.read().decode()
    assert f'data-max-message-chars="{stack.env["MAX_MESSAGE_CHARS"]}"' in page
