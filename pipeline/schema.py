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


class InvalidDocumentError(AnalyzerError):
    """A session document does not match the schema."""


@functools.cache
def session_schema() -> dict[str, Any]:
    """The session document's JSON Schema (draft 2020-12)."""
    text = resources.files("pipeline").joinpath(SCHEMA_FILE).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def validate_document(document: Mapping[str, Any]) -> None:
    """Raise :class:`InvalidDocumentError` naming the first offending key."""
    validator = jsonschema.Draft202012Validator(session_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise InvalidDocumentError(f"session document is invalid at {where}: {error.message}")
