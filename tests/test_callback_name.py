"""The callback form's name question: "yes", "ok" and the like are asked again, not stored
as the visitor's name (the security review's form accepted "yes"); real names, including
ones that start like those words, are kept."""

from __future__ import annotations

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.callback_form import ValidateCallbackForm


def validate(text: str):
    tracker = Tracker("visitor", {}, {"text": text, "intent": {"name": "affirm"}}, [], False, None,
                      {"name": "callback_form"}, "action_listen")
    return ValidateCallbackForm().validate_callback_name(text, CollectingDispatcher(), tracker, {})["callback_name"]


@pytest.mark.parametrize("text", ["yes", "Yes!", "YES.", "yeah", "yep", "ok", "Okay", "OK thanks", "sure",
                                  "no", "nope", "no thanks", "maybe", "y", "k", "idk", "I don't know", "hello",
                                  "yes please", "thank you", "...", "!!!", "   ", "is it", "2pm", "what?"])
def test_answers_that_are_not_a_name_are_asked_again(text):
    assert validate(text) is None


@pytest.mark.parametrize("text, kept", [("Jane Doe", "Jane Doe"), ("  Yesenia   Ruiz ", "Yesenia Ruiz"),
                                        ("Noah", "Noah"), ("Okafor", "Okafor"), ("Kay", "Kay"),
                                        ("Joy", "Joy"), ("Ty", "Ty"), ("José Núñez", "José Núñez"),
                                        ("Mary-Kate O'Neil", "Mary-Kate O'Neil"), ("my name is Ann", "my name is Ann")])
def test_names_are_kept(text, kept):
    assert validate(text) == kept
