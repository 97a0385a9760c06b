"""Two per-message costs of Rasa 3.6 that only depend on static data, computed once.

py-spy on the Rasa server under load (``make bench``, docs/PERFORMANCE.md) showed,
of its busy time:

* ~4 % in ``GraphSchema.minimal_graph_schema``: every message runs the NLU graph
  and then the policy graph, and each run first walks the model's graph schema
  recursively, without memoization, to find the nodes its targets need. The
  schema does not change while a model is loaded, so the answer per target list
  is kept on the schema object (a new model brings a new schema object).
* ~4 % in ``Event.resolve_by_type``: turning each stored event back into an object
  (every tracker read) scans all ``Event`` subclasses, recursively, for the type
  name. Here a name -> class table answers; it is rebuilt when a name is not
  found (a subclass imported later), and the first class found wins as before.

Both return exactly what Rasa's own code returns (tests/test_rasa_speedups.py).
``install()`` is idempotent; the module changes nothing when merely imported.
Written for Rasa 3.6.21 (``install()`` refuses another: addons/rasa_patches/__init__.py).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Text, Tuple, Type

import rasa.shared.utils.common
from rasa.engine.graph import GraphSchema
from rasa.shared.core.events import Event

from addons.rasa_patches import require

_original_minimal_graph_schema = GraphSchema.minimal_graph_schema
_original_resolve_by_type = Event.resolve_by_type
_event_types: Dict[Text, Type[Event]] = {}


def _minimal_graph_schema(self: GraphSchema, targets: Optional[List[Text]] = None) -> GraphSchema:
    cache: Dict[Tuple[Text, ...], GraphSchema] = self.__dict__.setdefault("_clinic_minimal_schemas", {})
    key = tuple(targets if targets else self.target_names)
    if key not in cache:
        cache[key] = _original_minimal_graph_schema(self, list(key))
    return cache[key]


def _index_event_types() -> None:
    _event_types.clear()
    for cls in rasa.shared.utils.common.all_subclasses(Event):
        _event_types.setdefault(cls.type_name, cls)


def _resolve_by_type(type_name: Text, default: Optional[Type[Event]] = None) -> Optional[Type[Event]]:
    found = _event_types.get(type_name)
    if found is None:
        _index_event_types()
        found = _event_types.get(type_name)
    if found is not None:
        return found
    return _original_resolve_by_type(type_name, default)  # "topic", the default, or Rasa's error


def install() -> None:
    """Put both in place (idempotent)."""
    require("speedups")
    GraphSchema.minimal_graph_schema = _minimal_graph_schema  # type: ignore[assignment]
    Event.resolve_by_type = staticmethod(_resolve_by_type)  # type: ignore[assignment]


def uninstall() -> None:
    """Rasa's own methods again (for tests that compare the two)."""
    GraphSchema.minimal_graph_schema = _original_minimal_graph_schema  # type: ignore[assignment]
    Event.resolve_by_type = staticmethod(_original_resolve_by_type)  # type: ignore[assignment]
