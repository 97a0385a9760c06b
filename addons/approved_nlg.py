"""Response generator that fills domain responses from the approved-content file.

Every answer is a domain response, so it is sent by the Rasa server itself:
no round trip to the action server (the largest cost per message,
docs/PERFORMANCE.md), and the crisis reply never depends on it. In
``domain.yml`` a response carries only a content id, or, for ``utter_answer``,
``answer_by_intent: true``: the entry is then chosen from the latest intent by
the routing table (``content/routing.yml``, :mod:`clinic.routing`). This generator, running inside the Rasa
server, puts in the approved wording and version, so the words still live in
exactly one file.

Configured in ``endpoints.yml``::

    nlg:
      type: addons.approved_nlg.ApprovedContentNLG
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from addons.rasa_patches import action_calls, speedups
from clinic.content import ApprovedContent, placeholder_fields
from clinic.routing import RoutingTable

# Metadata of a domain response whose entry depends on the latest intent.
BY_INTENT = "answer_by_intent"

logger = logging.getLogger(__name__)


def warn_about_placeholders(content: ApprovedContent) -> None:
    """Say at start when visitors would see "[clinic phone number — not yet configured]" (make go-live-check)."""
    fields = placeholder_fields(content.clinic)
    if not fields:
        return
    used = sorted(cid for cid, entry in content.entries.items() if set(entry.placeholders()) & set(fields))
    logger.warning("content/clinic.yml still has placeholders for %s; visitors see them in: %s. "
                   "Fill them in before going live (`make go-live-check`).", ", ".join(fields),
                   ", ".join(used) or "no text yet")


class ApprovedContentNLG(TemplatedNaturalLanguageGenerator):
    """Templated responses whose text comes from ``content/approved.yml``."""

    def __init__(self, endpoint_config: EndpointConfig, domain: Domain) -> None:
        # Rasa builds the generator before it loads a model (with an empty domain) and
        # sets ``responses`` once the model is loaded; both go through the check below.
        # `PUT /model` (make reload) builds a new one, which reads the content afresh.
        self.content = ApprovedContent.load()
        self.routing = RoutingTable.load()
        warn_about_placeholders(self.content)
        super().__init__(domain.responses)
        # The first project code Rasa runs: also where the measured fixes for Rasa's
        # per-message overhead go in (docs/PERFORMANCE.md).
        action_calls.install_cached_validator()
        speedups.install()

    @property
    def responses(self) -> Dict[Text, List[Dict[Text, Any]]]:
        return self._responses

    @responses.setter
    def responses(self, responses: Dict[Text, List[Dict[Text, Any]]]) -> None:
        """A domain response naming an entry that does not exist stops the model from loading."""
        for name, variants in (responses or {}).items():
            for variant in variants:
                content_id = (variant.get("metadata") or {}).get("content_id")
                if content_id and content_id not in self.content.entries:
                    raise ValueError(f"domain response '{name}' names unknown content id '{content_id}'")
        self._responses = responses

    async def generate(
        self,
        utter_action: Text,
        tracker: DialogueStateTracker,
        output_channel: Text,
        **kwargs: Any,
    ) -> Optional[Dict[Text, Any]]:
        response = await super().generate(utter_action, tracker, output_channel, **kwargs)
        if not response:
            return response
        metadata = response.pop("metadata", None) or {}
        content_id = metadata.get("content_id")
        if metadata.get(BY_INTENT):
            bot_metadata = [e.metadata for e in reversed(tracker.events) if isinstance(e, BotUttered)]
            content_id = self.routing.choose_content_id(tracker.latest_message.intent.get("name"),
                                                        self.routing.previous_content_id(bot_metadata),
                                                        ((m or {}).get("content_id") for m in bot_metadata))
        if not content_id:
            return response
        message = self.content.render(content_id)
        return {**response, **message.as_kwargs()}
