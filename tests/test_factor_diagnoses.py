"""Factor-level diagnoses in notebook 03's self-checks (issue 23, item 4): a product that lacks one local factor
is told which factor, on the path named by its nodes; a δ1 without the hidden unit's sigmoid derivative is
named as such. Before issue 23 both said "no simple pattern" or compared "path product 1 (sorted)".

The notebook's cells run in-process (``testkit.notebook_helpers.run_in_process``) with one answer replaced.
"""

from __future__ import annotations

import copy

import pytest

from testkit.isolation_cases import source_path
from testkit.notebook_helpers import is_answer, nbgrader_meta, read, run_in_process

PATH = source_path("03-many-paths")


def _failures(grade_id: str, old: str, new: str) -> dict[str, str]:
    cells = []
    for cell in read(PATH).cells:
        if is_answer(cell) and nbgrader_meta(cell)["grade_id"] == grade_id:
            cell = copy.deepcopy(cell)
            assert old in cell.source, old
            cell.source = cell.source.replace(old, new)
        cells.append(cell)
    results = run_in_process(cells, cwd=PATH.parent)
    return {gid: r.error for gid, r in results.items() if not r.passed}


@pytest.mark.kernel  # runs notebook cells
def test_a_path_product_without_its_w2_factor_names_the_path_and_the_edge():
    failed = _failures("paths-answer", "W2[k, i - 1] * dh1_da1", "dh1_da1")
    assert set(failed) == {"paths-first-layer-test"}, failed
    message = failed["paths-first-layer-test"]
    assert "your product along w_131 → a_13 → h_13 → a_21 → yhat_1 → L" in message
    assert "it lacks the factor ∂a_21/∂h_13" in message
    assert "sorted" not in message and "0.5467" not in message  # by its nodes; the factor's value not given


@pytest.mark.kernel  # runs notebook cells
def test_a_delta1_without_the_sigmoid_derivative_is_named():
    failed = _failures("deltas-answer", 'delta1 = (params["W2"].T @ delta2) * (h1 * (1 - h1))',
                       'delta1 = params["W2"].T @ delta2')
    assert set(failed) == {"deltas-test", "deltas-sizes-test"}, failed
    for message in failed.values():
        assert "W1, b1: your gradient matches a known mistake: δ1 lacks the factor ∂h_1i/∂a_1i" in message
        assert "no simple pattern" not in message
