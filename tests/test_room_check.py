import json

import numpy as np
import pytest

from conftest import in_room, piano_phrase
from pianokit import room_check
from pianokit.contract import FeatureConfig
from pianokit.features import extract

CONFIG = FeatureConfig()
NAMES = [f for f in CONFIG.features if not f.startswith("tr_")]  # the transcription is slow and not needed here


def features(clips):
    config = FeatureConfig(features=tuple(NAMES))
    return np.stack([extract(y, config)[0] for y in clips])


@pytest.fixture(scope="module")
def dry_and_rooms():
    """Features of 32 dry piano-like phrases and of 32 others in rooms of 0.8-2 s."""
    rng = np.random.default_rng(3)
    dry = [piano_phrase(rng) for _ in range(32)]
    rooms = [in_room(piano_phrase(rng), rng.uniform(0.8, 2.0), rng) for _ in range(32)]
    return features(dry), features(rooms)


def test_rt60_is_read_from_augmentation_recipes():
    assert room_check.rt60_of(json.dumps({"rt60": 1.25, "noise": None})) == 1.25
    assert room_check.rt60_of(json.dumps({"rt60": None, "codec": ["mp3", 4]})) == 0.0
    for nothing in (None, float("nan"), "", "not json", "[1, 2]", json.dumps({"rt60": "long"})):
        assert room_check.rt60_of(nothing) == 0.0


def test_the_check_tells_rooms_from_dry_recordings_it_never_saw(dry_and_rooms):
    """Fitted on 24 dry phrases and 24 in rooms, it flags held-out phrases in rooms and not dry ones."""
    dry, rooms = dry_and_rooms
    x = np.concatenate([dry[:24], rooms[:24]])
    rt60 = np.r_[np.zeros(24), np.full(24, 1.2)]
    check = room_check.fit(x, rt60, NAMES)
    assert check is not None and room_check.valid(check, NAMES)
    assert check["rows"] == 48 and check["room_rows"] == 24
    p_dry, p_room = room_check.probability(check, dry[24:]), room_check.probability(check, rooms[24:])
    assert np.sum(p_room >= room_check.WARN_PROBABILITY) >= 7 and np.sum(p_dry >= room_check.WARN_PROBABILITY) <= 1
    assert room_check.warning(float(p_room.max()), check).startswith("reverberant room")
    assert room_check.warning(float(p_dry.min()), check) is None


def test_rooms_shorter_than_the_limit_count_as_dry_and_too_few_rooms_fit_nothing(dry_and_rooms):
    dry, rooms = dry_and_rooms
    x = np.concatenate([dry, rooms])
    short = np.r_[np.zeros(32), np.full(32, room_check.ROOM_RT60_S - 0.1)]
    assert room_check.fit(x, short, NAMES) is None
    few = np.r_[np.zeros(32 + 32 - room_check.MIN_ROWS_PER_CLASS + 1), np.ones(room_check.MIN_ROWS_PER_CLASS - 1)]
    assert room_check.fit(x, few, NAMES) is None


def test_a_missing_feature_counts_as_the_training_mean(dry_and_rooms):
    dry, rooms = dry_and_rooms
    check = room_check.fit(np.concatenate([dry, rooms]), np.r_[np.zeros(32), np.ones(32)], NAMES)
    row = dry[0].copy()
    row[3] = np.nan
    filled = dry[0].copy()
    filled[3] = check["mean"][3]
    assert np.isfinite(room_check.probability(check, row)).all()
    assert room_check.probability(check, row) == pytest.approx(room_check.probability(check, filled))


def test_malformed_checks_are_not_valid(dry_and_rooms):
    dry, rooms = dry_and_rooms
    check = room_check.fit(np.concatenate([dry, rooms]), np.r_[np.zeros(32), np.ones(32)], NAMES)
    assert room_check.valid(check, NAMES)
    assert not room_check.valid(check, NAMES[:-1])  # reads a feature the model does not have
    for key, value in (("coef", check["coef"][:-1]), ("scale", [0.0] * len(NAMES)), ("mean", "x"),
                       ("intercept", float("nan")), ("features", []), ("intercept", True),
                       ("coef", [True] * len(NAMES)), ("warn_probability", "high")):
        assert not room_check.valid({**check, key: value}, NAMES)
    assert not room_check.valid({k: v for k, v in check.items() if k != "coef"}, NAMES)
    assert not room_check.valid("check", NAMES)
