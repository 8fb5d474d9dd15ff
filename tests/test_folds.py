import numpy as np
import pandas as pd
import pytest

from pianokit.errors import InputError
from pianokit.training_data import make_folds


def table(n_passages=12, players=12):
    rows = []
    for p in range(n_passages):
        for player in range(players):
            rows.append({"segment_id": f"p{p}_{player}", "passage": f"p{p}", "fold_passage": p % 4,
                         "performer_group": player - 1})
    return pd.DataFrame(rows)


def test_passage_folds_never_share_a_passage():
    t = table()
    folds = make_folds(t, "passage", 4, seed=3)
    assert [f.index for f in folds] == [0, 1, 2, 3]
    seen_test = []
    for f in folds:
        parts = [set(t["passage"].iloc[idx]) for idx in (f.train, f.val, f.test)]
        assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
        assert len(f.train) + len(f.val) + len(f.test) == len(t)
        assert len(f.val) > 0
        seen_test += list(f.test)
    assert sorted(seen_test) == list(range(len(t)))


def test_performer_folds_follow_the_paper_rule():
    t = table()
    folds = make_folds(t, "performer", 4)
    groups = t["performer_group"].to_numpy()
    for k, f in enumerate(folds):
        assert set(groups[f.test]) == {1, 2}
        assert set(groups[f.val]) == {2 * k + 3, 2 * k + 4} & set(groups)
        assert not set(f.train) & set(f.val) and not set(f.train) & set(f.test)
        assert {-1, 0} <= set(groups[f.train])


def test_folds_are_deterministic():
    a = make_folds(table(), "passage", 4, seed=1)
    b = make_folds(table(), "passage", 4, seed=1)
    assert all(np.array_equal(x.val, y.val) for x, y in zip(a, b))


def test_missing_fold_columns():
    with pytest.raises(InputError, match="fold_passage"):
        make_folds(table().drop(columns=["fold_passage"]), "passage")
    with pytest.raises(InputError, match="performer_group"):
        make_folds(table().drop(columns=["performer_group"]), "performer")
    with pytest.raises(InputError, match="only 4 passage folds"):
        make_folds(table(), "passage", 5)
