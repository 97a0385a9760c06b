"""Response generator that fills domain responses from the approved-content file.

Messages that must never depend on the action server (the crisis reply, the
"can't look that up" reply, the callback form's questions) are domain
responses. In ``domain.yml`` they carry only a content id; this generator,
running inside the Rasa server, puts in the approved wording and version, so
the words still live in exactly one file.

Configured in ``endpoints.yml``::

    nlg:
      type: addons.approved_nlg.ApprovedContentNLG
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Optional, Text

from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from actions.content import ApprovedContent
from addons import action_calls

logger = logging.getLogger(__name__)


class ApprovedContentNLG(TemplatedNaturalLanguageGenerator):
    """Templated responses whose text comes from ``content/approved.yml``."""

    def __init__(self, endpoint_config: EndpointConfig, domain: Domain) -> None:
        super().__init__(domain.responses)
        # The first project code Rasa runs with a model: also where the measured
        # fix for action-call overhead goes in (docs/PERFORMANCE.md).
        action_calls.install_cached_validator()
        # Loaded with the model: `PUT /model` (make reload) reads it afresh.
        self.content = ApprovedContent.load()
        for name, variants in domain.responses.items():
            for variant in variants:
                content_id = (variant.get("metadata") or {}).get("content_id")
                if content_id and content_id not in self.content.entries:
                    raise ValueError(f"domain response '{name}' names unknown content id '{content_id}'")

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
        if not content_id:
            return response
        message = self.content.render(content_id)
        return {**response, **message.as_kwargs()}
