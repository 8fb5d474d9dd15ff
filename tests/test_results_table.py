import numpy as np

from pianokit.metrics import evaluate
from pianokit.results_table import markdown_means, summary_rows, text_table


def summary(seed=0):
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0, 1, (40, 2))
    passages = np.repeat(np.arange(10), 4)

    def ev(noise):
        return evaluate(truth, truth + rng.normal(0, noise, truth.shape), ["a", "b"], passages)

    return {"folds": 4, "split": "passage", "model": ev(0.1),
            "baselines": {"train_mean": ev(1.0), "player_mean": ev(0.5), "ridge": ev(0.3)}}


def test_rows_carry_model_and_every_measured_baseline():
    s = summary()
    rows = summary_rows(s)
    assert [r["dimension"] for r in rows] == ["a", "b", "MEAN"]
    assert rows[-1]["r2"] == s["model"]["mean"]["r2"]
    assert rows[-1]["within_r"] == s["model"]["within_passage"]["mean"]["r"]
    assert rows[0]["ridge_within_r2"] == s["baselines"]["ridge"]["within_passage"]["per_dimension"]["a"]["r2"]
    assert rows[0]["symbolic_r2"] is None  # not measured in this run


def test_text_and_markdown_tables_show_within_passage_and_baselines():
    s = summary()
    text = text_table(s)
    assert "wp R2" in text and "MEAN (4 folds, passage)" in text and "ridge R2" in text
    md = markdown_means([("mine", s)], {"overall": 0.81, "within_passage": 0.64})
    lines = md.splitlines()
    assert lines[0].startswith("| run | split | R² | r | within-passage R² | within-passage r |")
    assert lines[2].startswith(f"| mine | passage | {s['model']['mean']['r2']:.3f} |")
    assert "| label reliability" in lines[3] and "0.810 | 0.900 | 0.640 | 0.800" in lines[3]
