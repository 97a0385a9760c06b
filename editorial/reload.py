"""``python -m editorial.reload``: put a validated model and wording into the running servers.

``make reload`` (scripts/reload.sh) validates and retrains first and calls this
only when both succeeded. Nothing is restarted and conversations continue
(their trackers live in the tracker store):

1. both servers must answer (otherwise nothing is touched);
2. the Rasa server loads the model: ``PUT /model`` with ``{"model_file": <absolute path>}``.
   Its response generator (addons/approved_nlg.py) reads the approved texts
   afresh as part of loading, so wording-only changes need this step too. A
   failed load leaves the previous model serving;
3. the action server reloads the approved texts: ``POST /content/reload``. It
   refuses a malformed file and keeps the previous texts;
4. the versions the action server now serves are compared with the file.

Environment (from scripts/env.sh): ``RASA_URL`` (or ``RASA_URLS``, comma-separated,
when several Rasa servers run), ``ACTION_PORT`` (or ``ACTION_URLS``),
``RASA_AUTH_TOKEN``, and ``APPROVED_CONTENT`` when the servers use another file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from clinic.content import ApprovedContent, ContentError

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = ROOT / "models" / "clinic.tar.gz"


class ReloadError(Exception):
    """A step failed; the message says what is now running."""


@dataclass
class Reply:
    status: int
    body: str

    def json(self) -> Any:
        try:
            return json.loads(self.body or "null")
        except ValueError:
            return None


def call(method: str, url: str, body: Optional[dict] = None, timeout: float = 30.0) -> Reply:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return Reply(r.status, r.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as e:
        return Reply(e.code, e.read().decode("utf-8", "replace"))
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        return Reply(0, f"cannot connect ({reason})")


def with_token(url: str, token: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}token={urllib.parse.quote(token)}"


def split_urls(value: str) -> List[str]:
    return [u.strip().rstrip("/") for u in value.replace(" ", ",").split(",") if u.strip()]


def targets(env: Dict[str, str]) -> Tuple[List[str], List[str]]:
    rasa = split_urls(env.get("RASA_URLS") or env.get("RASA_URL")
                      or f"http://127.0.0.1:{env.get('RASA_PORT', '5005')}")
    actions = split_urls(env.get("ACTION_URLS") or f"http://127.0.0.1:{env.get('ACTION_PORT', '5055')}")
    return rasa, actions


def reload_servers(model: Path, rasa_urls: List[str], action_urls: List[str], token: str,
                   approved: Path, log=print, model_timeout: float = 600.0) -> str:
    """Runs steps 1-4; returns the success line or raises :class:`ReloadError`."""
    if not token:
        raise ReloadError("RASA_AUTH_TOKEN is empty. Nothing was changed.")
    model = model.resolve()
    if not model.is_file():
        raise ReloadError(f"model {model} not found (run `make train`). Nothing was changed.")
    try:
        expected = {cid: e.version for cid, e in ApprovedContent.load(approved).entries.items()}
    except ContentError as e:
        raise ReloadError(f"{e}. Run `make validate`. Nothing was changed.") from e

    down = []
    for url in rasa_urls:
        reply = call("GET", with_token(f"{url}/status", token))
        if reply.status != 200:
            down.append(f"Rasa server {url} ({reply.status or reply.body})")
    for url in action_urls:
        reply = call("GET", f"{url}/health")
        if reply.status != 200:
            down.append(f"action server {url} ({reply.status or reply.body})")
    if down:
        raise ReloadError(f"not answering: {', '.join(down)}. Start the assistant with `make run`, "
                          "then run `make reload` again. Nothing was changed.")

    done: List[str] = []
    for url in rasa_urls:
        log(f"Loading {model} into the Rasa server {url} ...")
        reply = call("PUT", with_token(f"{url}/model", token), {"model_file": str(model)}, timeout=model_timeout)
        if reply.status not in (200, 204):
            detail = (reply.json() or {}).get("message") if isinstance(reply.json(), dict) else reply.body
            state = (f"Already reloaded: {', '.join(done)}; the others still run the previous model and wording."
                     if done else "It keeps the previous model and wording; nothing was changed.")
            raise ReloadError(f"the Rasa server {url} refused the model ({reply.status}: {detail}). {state}")
        done.append(f"Rasa server {url}")

    for url in action_urls:
        log(f"Reloading the approved texts in the action server {url} ...")
        reply = call("POST", with_token(f"{url}/content/reload", token))
        if reply.status != 200:
            body = reply.json()
            detail = body.get("error") if isinstance(body, dict) else reply.body
            raise ReloadError(f"the action server {url} refused the approved texts ({reply.status}: {detail}). "
                              f"It keeps the previous texts; already reloaded: {', '.join(done)}. "
                              "Fix the problem and run `make reload` again.")
        done.append(f"action server {url}")
        served = call("GET", f"{url}/content/version").json()
        if isinstance(served, dict) and served != expected:
            differ = sorted(k for k in set(served) | set(expected) if served.get(k) != expected.get(k))
            raise ReloadError(f"the action server {url} serves versions that differ from {approved} "
                              f"for: {', '.join(differ)}. Does it use another APPROVED_CONTENT file?")
    return (f"RELOAD OK: model {model.name} and {len(expected)} approved texts from {approved} are live "
            f"({', '.join(done)}); conversations in progress continue.")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m editorial.reload", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="model file (default: models/clinic.tar.gz)")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    rasa_urls, action_urls = targets(env)
    approved = Path(env.get("APPROVED_CONTENT") or ROOT / "content" / "approved.yml")
    try:
        line = reload_servers(args.model, rasa_urls, action_urls, env.get("RASA_AUTH_TOKEN", ""), approved)
    except ReloadError as e:
        print(f"RELOAD FAILED: {e}", file=sys.stderr)
        return 1
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
