"""addons/rasa_patches/speedups.py returns exactly what Rasa's own methods return."""

from __future__ import annotations

from pathlib import Path

import pytest
import rasa.shared.utils.common
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered

from addons.rasa_patches import speedups as rasa_speedups

MODEL = Path(__file__).resolve().parent.parent / "models" / "clinic.tar.gz"


@pytest.fixture
def speedups():
    rasa_speedups.install()
    yield
    rasa_speedups.uninstall()


def test_every_event_type_resolves_to_the_same_class(speedups):
    names = {cls.type_name for cls in rasa.shared.utils.common.all_subclasses(Event)}
    assert {"user", "bot", "action", "slot", "active_loop"} <= names
    for name in names:
        assert Event.resolve_by_type(name) is rasa_speedups._original_resolve_by_type(name)


def test_unknown_event_types_behave_as_before(speedups):
    assert Event.resolve_by_type("topic") is None
    assert Event.resolve_by_type("no_such_event", default=SlotSet) is SlotSet
    with pytest.raises(ValueError, match="Unknown event name 'no_such_event'"):
        Event.resolve_by_type("no_such_event")


def test_stored_events_come_back_equal(speedups):
    events = [ActionExecuted("action_listen"), UserUttered("hi", {"name": "greeting", "confidence": 1.0}),
              SlotSet("crisis_flag", False)]
    assert [Event.from_parameters(e.as_dict()) for e in events] == events


def test_a_subclass_defined_later_is_found(speedups):
    Event.resolve_by_type("user")  # index built

    class LateEvent(SlotSet):
        type_name = "clinic_late_event"

    assert Event.resolve_by_type("clinic_late_event") is LateEvent
    assert rasa_speedups._original_resolve_by_type("clinic_late_event") is LateEvent


def test_minimal_graph_schema_is_the_same_and_computed_once(speedups):
    schema = LocalModelStorage.metadata_from_archive(MODEL).predict_schema
    # what the processor asks for: the NLU graph, then the policy graph
    for targets in (["run_RegexMessageHandler"], ["select_prediction"], ["domain_provider"]):
        first = schema.minimal_graph_schema(targets)
        assert targets[0] in first.nodes and len(first.nodes) < len(schema.nodes)
        assert first == rasa_speedups._original_minimal_graph_schema(schema, targets)
        assert schema.minimal_graph_schema(targets) is first
