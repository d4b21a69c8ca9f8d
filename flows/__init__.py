"""Prefect orchestration over :mod:`pipeline`: one session, a cohort, and scale-out.

Importing this package sets Prefect's environment defaults (state under the
project's data directory, analytics off) before any submodule imports Prefect;
see :mod:`flows.settings`.
"""

from flows.settings import configure_prefect

configure_prefect()
