import numpy as np
import pandas as pd
import pytest

from pianokit import baselines
from pianokit.metrics import evaluate


def data(n_players=6, n_passages=20, seed=0):
    rng = np.random.default_rng(seed)
    rows = [{"segment_id": f"p{p}_{k}", "passage": f"p{p}", "passage_group": f"g{p // 2}", "player": str(k)}
            for p in range(n_passages) for k in range(n_players)]
    t = pd.DataFrame(rows)
    style = rng.normal(0, 1, n_players)[t["player"].astype(int)]
    x = rng.normal(0, 1, (len(t), 5))
    y = np.stack([0.5 + 0.1 * style + 0.01 * rng.normal(size=len(t)),      # who plays
                  0.5 + 0.1 * x[:, 2] + 0.01 * rng.normal(size=len(t))], 1)  # what the features say
    return t, x, y


def test_player_mean_recognises_players_and_falls_back_for_new_ones():
    t, x, y = data()
    train, test = np.arange(0, 80), np.arange(80, 120)
    pred = baselines.player_mean(y[train], t["player"][train], t["player"][test])
    assert evaluate(y[test], pred, ["style", "feature"])["per_dimension"]["style"]["r2"] > 0.9
    unseen = baselines.player_mean(y[train], t["player"][train], ["never-heard"])
    np.testing.assert_allclose(unseen[0], y[train].mean(axis=0))


def test_passage_mean_recognises_music_played_in_training_and_falls_back_for_new_music():
    t, x, _ = data()
    rng = np.random.default_rng(1)
    music = rng.normal(0, 1, 20)[t["passage"].str[1:].astype(int)]
    y = np.stack([0.5 + 0.1 * music + 0.01 * rng.normal(size=len(t)), 0.5 + 0.01 * rng.normal(size=len(t))], 1)
    players = t["player"].astype(int).to_numpy()
    train, test = np.flatnonzero(players < 4), np.flatnonzero(players >= 4)  # new players, same music
    pred = baselines.predict_all(y, train, test, t, x, None)["passage_mean"]
    assert evaluate(y[test], pred, ["music", "noise"])["per_dimension"]["music"]["r2"] > 0.9
    train, test = np.arange(0, 78), np.arange(78, 120)  # music never heard: passages p0-p12, then p13-p19
    np.testing.assert_allclose(baselines.predict_all(y, train, test, t, x, None)["passage_mean"],
                               np.tile(y[train].mean(0), (42, 1)))


def test_ridge_finds_a_linear_feature_signal():
    t, x, y = data()
    train, test = np.arange(0, 80), np.arange(80, 120)
    pred = baselines.ridge(x[train], y[train], x[test], t["passage_group"][train])
    assert evaluate(y[test], pred, ["style", "feature"])["per_dimension"]["feature"]["r2"] > 0.9


def test_predict_all_names_every_baseline_and_skips_symbolic_without_midi():
    t, x, y = data()
    train, test = np.arange(0, 80), np.arange(80, 120)
    with_midi = baselines.predict_all(y, train, test, t, x, symbolic=x[:, :3])
    assert set(with_midi) == set(baselines.BASELINES)
    assert all(p.shape == (40, 2) for p in with_midi.values())
    np.testing.assert_allclose(with_midi["train_mean"], np.tile(y[train].mean(0), (40, 1)))
    missing = x[:, :3].copy()
    missing[5] = np.nan
    assert "symbolic" not in baselines.predict_all(y, train, test, t, x, symbolic=missing)
    assert "symbolic" not in baselines.predict_all(y, train, test, t, x, symbolic=None)


@pytest.mark.parametrize("column", ["player"])
def test_player_mean_needs_a_player_column(column):
    t, x, y = data()
    out = baselines.predict_all(y, np.arange(80), np.arange(80, 120), t.drop(columns=[column]), x, None)
    assert "player_mean" not in out


def test_player_mean_uses_the_performer_column_when_there_is_one():
    """PercePiano's player numbers repeat across composers: the performer column tells pianists apart."""
    t, x, y = data()
    t["player"] = "1"  # every row claims the same player number
    t["performer"] = "p" + t["segment_id"].str.split("_").str[1]
    pred = baselines.predict_all(y, np.arange(80), np.arange(80, 120), t, x, None)["player_mean"]
    assert evaluate(y[80:], pred, ["style", "feature"])["per_dimension"]["style"]["r2"] > 0.9


def test_performer_names_the_composer():
    from pianokit.dataset import performer

    assert performer("Schubert_D960_mv3", "1") != performer("Beethoven_WoO80_var5", "1")
    assert performer("Schubert_D935_no.3", 3) == performer("Schubert_D960_mv2", "3") == "Schubert_3"
