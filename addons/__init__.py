"""Extensions that run inside the Rasa server: NLU safety components, response generator, policy, channel.

Importing any of them (Rasa imports the tracker store before it loads a model,
and the NLU components before it trains one) first puts in place the fix that
saves ~10 s of start-up in skops' import (``addons/rasa_patches/skops_import.py``,
docs/PERFORMANCE.md). It only adds an import hook; it imports nothing.
"""

from addons.rasa_patches import skops_import

skops_import.install()
