"""The REST channel, checked: ``POST /webhooks/rest/webhook {"sender": "...", "message": "..."}``.

Rasa's own ``RestInput`` answers 500 to a body that is JSON but not an object,
passes a number as the sender, answers ``200 []`` (silence) to a message that
is not text, lets a client set ``metadata`` and ``input_channel``, and stores
control characters and unpaired surrogates as they come. This subclass keeps
its URL and reply format and adds:

* the body must be UTF-8 JSON: an object with ``sender`` (a string of 1 to 128
  letters, digits and ``_ . : @ -``, starting with a letter or digit: it ends
  up in URLs such as ``/conversations/{sender}/tracker``) and ``message`` (a
  string). Anything else gets ``400 {"error": "..."}`` saying what is wrong.
* a message starting with "/" must be a plain quick-reply payload (``/what_is_ketamine``),
  not Rasa's ``/restart``, ``/back``, ``/session_start`` or ``/intent{"entity": ...}``.
* the message is cleaned as on the Socket.IO channel (``addons/channel_input.py``:
  control and invisible formatting characters dropped, cut to ``MAX_MESSAGE_CHARS``)
  and must keep some text.
* other fields (``metadata``, ``input_channel``, ``?stream=true``) are ignored.
* when the conversation store or the lock store is unavailable, or the model is
  not loaded yet, the visitor gets the approved ``action_unavailable`` reply
  with status 503 and ``Retry-After`` (``addons/outage.py``) instead of
  silence; an unexpected error gets the same reply with status 500.

Bodies larger than ``SANIC_REQUEST_MAX_SIZE`` bytes (scripts/env.sh: 64 KB) are
refused by Sanic with 413 before they reach this code.

``credentials.yml``::

    addons.rest_channel.ClinicRestInput:
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Awaitable, Callable, Optional, Text, Tuple, Union

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from addons import outage
from addons.channel_input import clean_text, payload_problem

logger = logging.getLogger(__name__)

SENDER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}")
USAGE = 'send a JSON object: {"sender": "<conversation id>", "message": "<text>"}'


def parse_body(body: bytes) -> Union[Tuple[str, str], str]:
    """``(sender, text)`` from a request body, or the reason it is refused."""
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        return "the body is not UTF-8 text: " + USAGE
    except (ValueError, RecursionError):
        return "the body is not valid JSON: " + USAGE
    if not isinstance(data, dict):
        return "the body is not a JSON object: " + USAGE
    sender, message = data.get("sender"), data.get("message")
    if not isinstance(sender, str):
        return '"sender" must be a string: ' + USAGE
    if not SENDER.fullmatch(sender):
        return ('"sender" must be 1 to 128 characters: letters, digits and _ . : @ -, '
                "starting with a letter or digit")
    if not isinstance(message, str):
        return '"message" must be a string: ' + USAGE
    text = clean_text(message)
    if not text:
        return '"message" must contain some text'
    problem = payload_problem(text)
    if problem:
        return problem
    return sender, text


class ClinicRestInput(RestInput):
    """Rasa's REST channel with the checks described in the module docstring."""

    @classmethod
    def name(cls) -> Text:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("clinic_rest_webhook", __name__)
        handle = outage.guarded(on_new_message)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            parsed = parse_body(request.body or b"")
            if isinstance(parsed, str):
                return response.json({"error": parsed}, status=400)
            sender, text = parsed
            agent = getattr(request.app.ctx, "agent", None)
            if agent is None or not agent.is_ready():
                return _polite(sender, 503)
            collector = CollectingOutputChannel()
            failed = await handle(UserMessage(text, collector, sender, input_channel=self.name()))
            if failed is not None:
                return _polite(sender, failed["status"], failed["text"])
            return response.json(collector.messages)

        return webhook


def _polite(sender: str, status: int, text: Optional[str] = None) -> HTTPResponse:
    """The approved "try again" reply, in the channel's usual format, with ``status``."""
    body = [{"recipient_id": sender, "text": text or outage.polite_text()}]
    return response.json(body, status=status, headers={"Retry-After": "5"} if status == 503 else None)
