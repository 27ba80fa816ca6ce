"""nbgrader's cell-metadata check, with the schema compiled once (autograder.notebook.metadata): same verdicts."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import nbformat
import pytest

from autograder.coursedir.course import NOTEBOOKS_DIR
from autograder.notebook.metadata import compiled_validate, validate_with_compiled_schemas


def _schema() -> dict:
    import nbgrader.nbgraderformat.common as common

    return json.loads((Path(common.root) / "v3.json").read_text())


def _course_metadata() -> list[dict]:
    found = []
    for path in sorted(NOTEBOOKS_DIR.glob("*/*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        found += [c.metadata["nbgrader"] for c in nb.cells if "nbgrader" in c.metadata]
    return found


def _error(validate, instance, schema) -> str | None:
    try:
        validate(instance, schema)
    except jsonschema.ValidationError as exc:
        return f"{exc.message} at {list(exc.absolute_path)} ({exc.validator})"
    return None


def _broken(meta: dict) -> list[dict]:
    """Ways a cell's metadata goes wrong: a missing key, a wrong type, an extra key."""
    out = []
    for key in list(meta):
        gone = copy.deepcopy(meta)
        del gone[key]
        out.append(gone)
        typed = copy.deepcopy(meta)
        typed[key] = [1] if not isinstance(meta[key], list) else "x"
        out.append(typed)
    out.append({**meta, "points": "three"})
    out.append({**meta, "unexpected": True})
    return out


def test_every_course_cell_and_every_broken_copy_gets_jsonschemas_own_verdict():
    schema = _schema()
    metas = _course_metadata()
    assert len(metas) > 50
    cases = metas + [b for m in metas[:6] for b in _broken(m)]
    failing = 0
    for meta in cases:
        expected = _error(jsonschema.validate, meta, schema)
        assert _error(compiled_validate, meta, schema) == expected, meta
        failing += expected is not None
    assert failing > 10  # the broken copies are refused, by both


def test_a_broken_schema_is_refused_as_jsonschema_refuses_it():
    with pytest.raises(jsonschema.SchemaError):
        jsonschema.validate({}, {"type": 12})
    with pytest.raises(jsonschema.SchemaError):
        compiled_validate({}, {"type": 12})


def test_nbgraders_validator_uses_it_and_still_refuses_bad_metadata():
    import nbgrader.nbgraderformat.common as common
    from nbgrader.nbgraderformat import MetadataValidator

    validate_with_compiled_schemas()
    assert common.jsonschema.validate is compiled_validate
    validator = MetadataValidator()
    cell = nbformat.v4.new_code_cell("x = 1")
    cell.metadata["nbgrader"] = {"schema_version": 3, "grade": True, "solution": False, "locked": True,
                                 "grade_id": "t1", "points": 2, "task": False}
    validator.validate_cell(cell)
    cell.metadata["nbgrader"]["points"] = "two"
    with pytest.raises(jsonschema.ValidationError):
        validator.validate_cell(cell)

