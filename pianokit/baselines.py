"""In-house baselines, fitted on a fold's training rows and scored on its test rows like any model.

- train_mean: the training folds' mean rating (R² about 0).
- player_mean: the player's mean rating in the training folds (the training mean for a player never
  seen): what a model gets by only recognising who is playing. The player is the manifest's
  ``performer`` column (PercePiano: composer and player number), else its ``player`` column.
- passage_mean: the passage's mean rating in the training folds (the training mean for music never
  seen): on the performer split, where every test passage was played by training players, what a
  model gets by only recognising the music. On the passage split it is the training mean.
- ridge: ridge regression on the same audio features the models use.
- symbolic: ridge regression on features read from the performance MIDI (pianokit.symbolic), i.e.
  what a perfect transcription would give.

Ridge's penalty is chosen by cross-validation inside the training rows, grouped by passage group.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pianokit.training_data import split_groups

BASELINES = ("train_mean", "player_mean", "passage_mean", "ridge", "symbolic")
ALPHAS = np.logspace(-2, 4, 13)


def train_mean(y_train: np.ndarray, n_test: int) -> np.ndarray:
    return np.tile(y_train.mean(axis=0), (n_test, 1))


def group_mean(y_train: np.ndarray, keys_train, keys_test) -> np.ndarray:
    """Each test row gets the training mean of the rows with its key; unseen keys get the overall
    training mean."""
    means = pd.DataFrame(y_train).groupby(np.asarray(keys_train, dtype=str)).mean()
    overall = y_train.mean(axis=0)
    return np.stack([means.loc[k].to_numpy() if k in means.index else overall
                     for k in np.asarray(keys_test, dtype=str)])


def player_mean(y_train: np.ndarray, players_train, players_test) -> np.ndarray:
    """Each test row gets its player's training mean; unseen players get the overall training mean."""
    return group_mean(y_train, players_train, players_test)


def passage_mean(y_train: np.ndarray, passages_train, passages_test) -> np.ndarray:
    """Each test row gets its passage's training mean; unseen passages get the overall training mean."""
    return group_mean(y_train, passages_train, passages_test)


def ridge(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, groups_train) -> np.ndarray:
    """Standardised ridge regression, penalty by grouped inner cross-validation."""
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    groups = np.asarray(groups_train, dtype=str)
    n_splits = min(5, len(np.unique(groups)))
    cv = list(GroupKFold(n_splits).split(x_train, y_train, groups)) if n_splits >= 2 else None
    model = make_pipeline(StandardScaler(), RidgeCV(alphas=ALPHAS, cv=cv))
    model.fit(np.nan_to_num(x_train), y_train)
    return model.predict(np.nan_to_num(x_test))


def predict_all(y: np.ndarray, train: np.ndarray, test: np.ndarray, table: pd.DataFrame,
                features: np.ndarray, symbolic: np.ndarray | None) -> dict[str, np.ndarray]:
    """{baseline name: test predictions} for every baseline the data allows (rows index ``table``)."""
    groups = split_groups(table)
    out = {"train_mean": train_mean(y[train], len(test))}
    column = "performer" if "performer" in table.columns else "player" if "player" in table.columns else None
    if column:
        players = table[column].astype(str).to_numpy()
        out["player_mean"] = player_mean(y[train], players[train], players[test])
    if "passage" in table.columns:
        passages = table["passage"].astype(str).to_numpy()
        out["passage_mean"] = passage_mean(y[train], passages[train], passages[test])
    out["ridge"] = ridge(features[train], y[train], features[test], groups[train])
    if symbolic is not None and not np.isnan(symbolic[np.concatenate([train, test])]).any():
        out["symbolic"] = ridge(symbolic[train], y[train], symbolic[test], groups[train])
    return out
