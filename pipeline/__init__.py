"""Pure analysis stages: decode, transcribe, diarize, attribute, roles, measures, evidence, report.

Nothing here imports Prefect, HTTP or database code; each stage is a typed
function that can be called and tested alone.
"""

import models  # noqa: F401  (applies the privacy defaults before any model library loads)
