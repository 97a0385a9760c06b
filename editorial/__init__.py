"""Editorial checks and reports for the clinic's content editors.

Content editors (the clinic's marketing or clinical lead) change the approved
wording in ``content/approved.yml`` and the training examples in ``data/``.
This package catches their mistakes before a visitor sees them and documents
what the assistant says, for clinical sign-off:

* ``python -m editorial check``  the project's own content checks (``make validate``
  runs Rasa's data validation first, then these);
* ``python -m editorial.report``  an HTML page and a Markdown twin of every approved
  text, its approval record and the questions that lead to it (``make content-report``);
* ``python -m editorial.reload``  loads a validated model and wording into the
  running servers (``make reload`` validates and retrains first).

Every check takes a project root, so tests run them on a copy of the project.
The approved-content schema lives in :mod:`clinic.content` and the routing table in
:mod:`clinic.routing`; both are reused here.
"""

from editorial.checks import Finding, Result, run_checks
from editorial.project import Project

__all__ = ["Finding", "Project", "Result", "run_checks"]
