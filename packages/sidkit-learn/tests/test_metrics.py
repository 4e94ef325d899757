from __future__ import annotations

import numpy as np
import pytest

from sidkit.learn import match_points


def test_perfect_match_scores_one():
    pts = np.array([[1.0, 1.0], [5.0, 5.0], [9.0, 2.0]])
    m = match_points(pts, pts + 0.3)
    assert (m.true_positives, m.false_positives, m.false_negatives) == (3, 0, 0)
    assert m.precision == m.recall == m.f1 == 1.0
    assert m.mean_distance == pytest.approx(0.3 * np.sqrt(2))


def test_points_beyond_tolerance_do_not_match():
    m = match_points([[0.0, 0.0]], [[0.0, 1.5]], tolerance=1.0)
    assert (m.true_positives, m.false_positives, m.false_negatives) == (0, 1, 1)
    assert m.precision == 0.0 and m.recall == 0.0


def test_matching_is_one_to_one():
    found = np.array([[0.0, 0.0], [0.0, 0.2]])
    m = match_points(found, [[0.0, 0.1]])
    assert (m.true_positives, m.false_positives, m.false_negatives) == (1, 1, 0)
    assert m.precision == 0.5 and m.recall == 1.0


def test_border_points_are_not_scored_but_pairs_across_the_border_count():
    true = np.array([[0.5, 10.0], [10.0, 10.0], [2.5, 10.0]])
    found = np.array([[10.0, 10.2], [1.0, 3.0], [1.8, 10.0]])
    m = match_points(found, true, 1.0, exclude_border=2.0, shape=(20, 20))
    # [0.5, 10] unmatched but in the border: not a false negative;
    # [1, 3] unmatched in the border: not a false positive;
    # [1.8, 10] (border) matches [2.5, 10] (inside): a true positive
    assert (m.true_positives, m.false_positives, m.false_negatives) == (2, 0, 0)


def test_empty_sets():
    m = match_points(np.zeros((0, 2)), np.zeros((0, 2)))
    assert m.precision == 1.0 and m.recall == 1.0
    m = match_points(np.zeros((0, 2)), [[1.0, 1.0]])
    assert m.recall == 0.0 and m.false_negatives == 1
    assert m.as_dict()["false_negatives"] == 1


def test_exclude_border_needs_shape():
    with pytest.raises(ValueError, match="shape"):
        match_points([[1.0, 1.0]], [[1.0, 1.0]], exclude_border=2.0)
