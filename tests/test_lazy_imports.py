"""autograder.lazy_imports: a module's import-time work moved to its first use, with the same behaviour."""

from __future__ import annotations

import sys

from autograder.lazy_imports import NAME, _Deferred


def test_a_deferred_module_is_imported_on_first_use_and_then_is_the_real_one(monkeypatch):
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    stand_in = _Deferred("colorsys")
    monkeypatch.setitem(sys.modules, "colorsys", stand_in)
    assert stand_in._real is None
    assert stand_in.rgb_to_hsv(1.0, 0.0, 0.0) == (0.0, 1.0, 1.0)
    assert stand_in._real is not None and sys.modules["colorsys"] is stand_in._real


def test_jsonschemas_iri_check_answers_as_the_real_rfc3987_syntax_does():
    from jsonschema import FormatChecker

    checker = FormatChecker()
    assert "iri" in checker.checkers, "the stand-in must not remove the check"
    assert checker.conforms("https://example.org/π?q=1#frag", "iri")
    assert not checker.conforms("no scheme here", "iri")
    from rfc3987_syntax import is_valid_syntax  # the real module by now

    assert not isinstance(sys.modules[NAME], _Deferred)
    assert is_valid_syntax("iri", "https://example.org/π") and not is_valid_syntax("iri", "no scheme here")
