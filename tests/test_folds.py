from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pianokit.errors import InputError
from pianokit.training_data import TrainingData, final_holdout, make_folds, straddling_groups

PERCEPIANO = Path(__file__).resolve().parents[2] / "shared" / "percepiano"


def table(n_passages=12, players=12):
    """Passages 2k and 2k+1 overlap (one passage group), like an 8-bar segment inside a 16-bar one."""
    rows = []
    for p in range(n_passages):
        for player in range(players):
            rows.append({"segment_id": f"p{p}_{player}", "passage": f"p{p}", "passage_group": f"g{p // 2}",
                         "fold_passage": (p // 2) % 4, "player": str(player), "performer_group": player - 1})
    return pd.DataFrame(rows)


def assert_no_group_straddles(t: pd.DataFrame, folds, column: str) -> None:
    groups = t[column].astype(str).to_numpy()
    for f in folds:
        sides = [set(groups[idx]) for idx in (f.train, f.val, f.test)]
        assert not (sides[0] & sides[1]) and not (sides[0] & sides[2]) and not (sides[1] & sides[2]), f.index
        assert straddling_groups(groups, f) == []


def test_passage_folds_keep_each_passage_group_on_one_side():
    t = table()
    folds = make_folds(t, "passage", 4, seed=3)
    assert [f.index for f in folds] == [0, 1, 2, 3]
    assert_no_group_straddles(t, folds, "passage_group")
    seen_test = []
    for f in folds:
        assert len(f.train) + len(f.val) + len(f.test) == len(t)
        assert len(f.val) > 0
        seen_test += list(f.test)
    assert sorted(seen_test) == list(range(len(t)))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=8, max_size=40), st.integers(0, 10_000),
       st.floats(0.05, 0.5))
def test_early_stopping_split_never_cuts_a_group(group_of_passage, seed, fraction):
    """Whatever the groups, the inner validation split takes whole passage groups only."""
    rows = [{"segment_id": f"s{i}_{k}", "passage": f"s{i}", "passage_group": f"g{g}", "fold_passage": g % 2,
             "performer_group": k} for i, g in enumerate(group_of_passage) for k in range(2)]
    t = pd.DataFrame(rows)
    if t["fold_passage"].nunique() < 2 or any(t[t["fold_passage"] != k]["passage_group"].nunique() < 1
                                              for k in (0, 1)):
        return
    folds = make_folds(t, "passage", 2, seed=seed, val_fraction=fraction)
    assert_no_group_straddles(t, folds, "passage_group")
    held = final_holdout(t, fraction, seed)
    rest = np.setdiff1d(np.arange(len(t)), held)
    assert not set(t["passage_group"].iloc[held]) & set(t["passage_group"].iloc[rest])


def test_fold_column_that_splits_a_group_is_refused():
    t = table()
    t.loc[t["passage"] == "p1", "fold_passage"] = 3  # p0 and p1 overlap but now sit in folds 0 and 3
    with pytest.raises(InputError, match="passage_group 'g0'.*both sides"):
        make_folds(t, "passage", 4)


def test_performer_folds_follow_the_paper_rule():
    t = table()
    folds = make_folds(t, "performer", 4)
    groups = t["performer_group"].to_numpy()
    for k, f in enumerate(folds):
        assert set(groups[f.test]) == {1, 2}
        assert set(groups[f.val]) == {2 * k + 3, 2 * k + 4} & set(groups)
        assert not set(f.train) & set(f.val) and not set(f.train) & set(f.test)
        assert {-1, 0} <= set(groups[f.train])
    assert_no_group_straddles(t, folds, "performer_group")
    assert_no_group_straddles(t, folds, "player")


def test_folds_are_deterministic():
    a = make_folds(table(), "passage", 4, seed=1)
    b = make_folds(table(), "passage", 4, seed=1)
    assert all(np.array_equal(x.val, y.val) for x, y in zip(a, b))


def test_missing_fold_columns():
    with pytest.raises(InputError, match="fold_passage"):
        make_folds(table().drop(columns=["fold_passage"]), "passage")
    with pytest.raises(InputError, match="passage_group"):
        make_folds(table().drop(columns=["passage_group"]), "passage")
    with pytest.raises(InputError, match="performer_group"):
        make_folds(table().drop(columns=["performer_group"]), "performer")
    with pytest.raises(InputError, match="only 4 passage folds"):
        make_folds(table(), "passage", 5)


@pytest.mark.skipif(not (PERCEPIANO / "folds.csv").is_file(), reason="../shared/percepiano is not beside the checkout")
def test_percepiano_folds_are_leak_free_and_the_old_ones_are_not():
    folds_csv = pd.read_csv(PERCEPIANO / "folds.csv")
    manifest = pd.read_csv(PERCEPIANO / "manifest.csv")
    t = folds_csv.merge(manifest[["segment_id", "player", "has_label"]], on="segment_id")
    t = t[t["has_label"] == 1].reset_index(drop=True)
    for seed in range(3):
        assert_no_group_straddles(t, make_folds(t, "passage", 4, seed=seed), "passage_group")
        assert_no_group_straddles(t, make_folds(t, "performer", 4, seed=seed), "performer_group")
    with pytest.raises(InputError, match="both sides"):
        make_folds(t.assign(fold_passage=t["fold_passage_v1"]), "passage")


def test_consistency_groups_fall_back_to_the_rows_own_segment():
    """A manifest where only some rows name a source: blank ones are each their own group, never
    one shared "nan" group."""
    table = pd.DataFrame({"segment_id": ["a@x", "a@y", "b", "c", "d"],
                          "source_id": ["a", "a", np.nan, "", "  "],
                          "soundfont": ["x", "y", "x", "x", "x"]})
    data = TrainingData(None, table, np.zeros((5, 1)), np.zeros((5, 1)), None)
    groups = data.groups(("source_id",))
    assert groups[0] == groups[1]
    assert len(set(groups[2:])) == 3 and not set(groups[2:]) & {groups[0]}
    assert list(data.groups(("source_id", "soundfont"))[:2]) == ["a\x1fx", "a\x1fy"]
    no_column = TrainingData(None, table.drop(columns="source_id"), np.zeros((5, 1)), np.zeros((5, 1)), None)
    assert len(set(no_column.groups(("source_id",)))) == 5
