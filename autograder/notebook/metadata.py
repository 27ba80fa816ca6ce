"""nbgrader's cell-metadata check with its JSON schema compiled once per process.

nbgrader 0.9.6 checks every graded cell's ``metadata.nbgrader`` with ``jsonschema.validate(metadata, schema)``
(``nbgrader.nbgraderformat.common.BaseMetadataValidator.validate_cell``), which checks the schema itself and
builds a new validator on every call: about 0.9 ms per cell on this project's 2-core machine, 0.2 s per
graded submission in a profile of a grading worker (``benchmarks/grader_cpu.py``).
:func:`validate_with_compiled_schemas` gives that module a ``validate`` that does the same with one validator
per schema: the same metadata passes, and a bad one raises the same ``ValidationError`` (jsonschema's
``best_match``), or the same ``SchemaError`` for a bad schema.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

__all__ = ["compiled_validate", "validate_with_compiled_schemas"]

_VALIDATORS: dict[str, Any] = {}


def compiled_validate(instance: Any, schema: dict) -> None:
    """``jsonschema.validate(instance, schema)``, with the schema checked and compiled once per process."""
    from jsonschema import exceptions, validators

    key = json.dumps(schema, sort_keys=True)
    validator = _VALIDATORS.get(key)
    if validator is None:
        cls = validators.validator_for(schema)
        cls.check_schema(schema)
        validator = _VALIDATORS[key] = cls(schema)
    error = exceptions.best_match(validator.iter_errors(instance))
    if error is not None:
        raise error


def validate_with_compiled_schemas() -> None:
    """Make nbgrader's cell-metadata check use :func:`compiled_validate` in this process."""
    import nbgrader.nbgraderformat.common as common

    if getattr(common.jsonschema, "validate", None) is not compiled_validate:
        common.jsonschema = SimpleNamespace(validate=compiled_validate)
