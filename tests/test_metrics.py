import numpy as np
import pytest

from pianokit.metrics import aggregate, evaluate, headline, passage_deviations


def test_within_passage_ignores_what_the_passage_explains():
    """Predictions off by a per-passage constant: poor plain R², perfect within-passage scores."""
    rng = np.random.default_rng(0)
    passages = np.repeat([f"p{i}" for i in range(10)], 4)
    offset = np.repeat(rng.normal(0, 1, 10), 4)[:, None]
    truth = rng.normal(0, 0.3, (40, 2)) + offset
    pred = truth - 2 * offset
    m = evaluate(truth, pred, ["a", "b"], passages)
    assert m["mean"]["r2"] < 0
    assert m["within_passage"]["mean"]["r2"] == pytest.approx(1.0)
    assert m["within_passage"]["mean"]["r"] == pytest.approx(1.0)
    assert m["within_passage"]["n"] == 40


def test_within_passage_sees_only_passage_means_as_worthless():
    """A model that only knows each passage's mean label has within-passage r 0 and R² 0."""
    rng = np.random.default_rng(1)
    passages = np.repeat(np.arange(12), 5)
    truth = rng.normal(0, 1, (60, 1)) + np.repeat(rng.normal(0, 2, 12), 5)[:, None]
    pred = np.repeat(truth.reshape(12, 5).mean(axis=1), 5)[:, None]
    m = evaluate(truth, pred, ["x"], passages)
    assert m["mean"]["r2"] > 0.5
    assert m["within_passage"]["mean"]["r2"] == pytest.approx(0.0, abs=1e-9)
    assert m["within_passage"]["mean"]["r"] == 0.0


def test_single_rendition_passages_are_left_out():
    truth = np.arange(10, dtype=float)[:, None]
    passages = ["a", "a", "b", "b", "c", "d", "e", "f", "g", "h"]
    t, p = passage_deviations(truth, truth * 2, passages)
    assert len(t) == 4
    np.testing.assert_allclose(t[:, 0], [-0.5, 0.5, -0.5, 0.5])
    assert "within_passage" not in evaluate(truth, truth, ["x"], list("abcdefghij"))
    assert "within_passage" not in evaluate(truth, truth, ["x"])


def test_aggregate_is_the_mean_over_folds_and_headline_reads_it():
    rng = np.random.default_rng(2)
    passages = np.repeat(np.arange(8), 3)
    folds = []
    for k in range(3):
        truth = rng.normal(size=(24, 2))
        folds.append(evaluate(truth, truth + rng.normal(0, 0.5 + k, (24, 2)), ["a", "b"], passages))
    folds.append(evaluate(truth, truth, ["a", "b"]))  # no within-passage scores: left out of that mean
    agg = aggregate(folds, ["a", "b"])
    assert agg["per_dimension"]["b"]["r2"] == pytest.approx(np.mean([f["per_dimension"]["b"]["r2"] for f in folds]))
    assert agg["mean"]["mae"] == pytest.approx(np.mean([f["mean"]["mae"] for f in folds]))
    assert agg["within_passage"]["mean"]["r"] == pytest.approx(np.mean([f["within_passage"]["mean"]["r"]
                                                                        for f in folds[:3]]))
    top = headline(agg)
    assert top == {"r2": agg["mean"]["r2"], "within_passage_r2": agg["within_passage"]["mean"]["r2"],
                   "within_passage_r": agg["within_passage"]["mean"]["r"]}
    assert np.isnan(headline(folds[3])["within_passage_r"])
