"""Validation of ``session.json`` against the JSON Schema kept beside this module."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

import jsonschema

from pipeline.errors import AnalyzerError

SCHEMA_FILE = "session.schema.json"
"""The current schema (2.x)."""
SCHEMA_FILES = {"1": "session.schema.v1.json", "2": SCHEMA_FILE}
"""Schema file by major ``schema_version``: 1.x documents are still read (``rescore``
upgrades them), only 2.x ones are written."""


class InvalidDocumentError(AnalyzerError):
    """A session document does not match the schema."""


@functools.cache
def session_schema(major: str = "2") -> dict[str, Any]:
    """The session document's JSON Schema (draft 2020-12) for a major version."""
    text = resources.files("pipeline").joinpath(SCHEMA_FILES[major]).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def validate_document(document: Mapping[str, Any]) -> None:
    """Raise :class:`InvalidDocumentError` naming the first offending key.

    The schema is chosen by the document's major ``schema_version``; an unknown
    version is validated against the current schema (and fails on the version).
    """
    version = document.get("schema_version")
    major = version.split(".", 1)[0] if isinstance(version, str) else "2"
    validator = jsonschema.Draft202012Validator(
        session_schema(major if major in SCHEMA_FILES else "2")
    )
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise InvalidDocumentError(f"session document is invalid at {where}: {error.message}")
