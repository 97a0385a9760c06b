"""The cached validator for action server replies accepts and refuses exactly what Rasa's does."""

from __future__ import annotations

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

from addons.rasa_patches import action_calls

GOOD = {"events": [{"event": "slot", "name": "x", "value": 1}],
        "responses": [{"text": "hi", "content_id": "greeting"}]}
BAD = {"events": [{"no_event_key": 1}], "responses": []}


@pytest.fixture
def both():
    original = RemoteAction._validate_action_result
    action = RemoteAction("action_answer", None)
    yield action, original
    RemoteAction._validate_action_result = original
    action_calls._installed.discard("validator")


def test_cached_validator_agrees_with_rasa(both):
    action, original = both
    assert original(action, GOOD)
    with pytest.raises(jsonschema.ValidationError):
        original(action, BAD)
    action_calls.install_cached_validator()
    assert RemoteAction._validate_action_result is not original
    for _ in range(3):  # the validator is built once and reused
        assert action._validate_action_result(GOOD)
        with pytest.raises(jsonschema.ValidationError, match="Failed to validate Action server response"):
            action._validate_action_result(BAD)
