"""DESIGN.md's fixed content ids and which intent leads to each, written out by hand.

Tests compare the routing table (content/routing.yml) with this, so a wrong or
missing line in the table fails; they do not rebuild the expectation from the
table itself.
"""

ARTICLE_TOPICS = ("what_is_ketamine", "how_it_works", "conditions_treated", "how_fast_it_works", "dose",
                  "session_length", "multiple_sessions", "consultation", "location", "about_clinic")
SMALL_TALK = ("greeting", "thanks", "goodbye", "bot_identity")
ROUTING = ("medical_handoff", "staff_handoff", "contact", "crisis", "distress", "fallback")

# intent -> the content id DESIGN.md says it gets
DESIGN_ROUTES = {
    **{topic: topic for topic in ARTICLE_TOPICS + SMALL_TALK},
    "medical_question": "medical_handoff",
    "ask_staff": "staff_handoff",
    "request_human": "staff_handoff",
    "contact": "contact",
    "crisis": "crisis",
    "distress": "distress",
    "nlu_fallback": "fallback",
}
