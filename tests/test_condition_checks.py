import json

import numpy as np
import pytest

from conftest import in_room, piano_phrase
from pianokit import condition_checks
from pianokit.contract import FeatureConfig
from pianokit.features import extract

CONFIG = FeatureConfig()
NAMES = [f for f in CONFIG.features if not f.startswith("tr_")]  # the transcription is slow and not needed here
ROOM, PHONE, DRY = {"rt60": 1.2}, {"phone": True, "rt60": None}, {"rt60": None, "phone": False}


def features(clips):
    config = FeatureConfig(features=tuple(NAMES))
    return np.stack([extract(y, config)[0] for y in clips])


@pytest.fixture(scope="module")
def recordings():
    """Features of 32 dry piano-like phrases, 32 others in rooms of 0.8-2 s and, where pedalboard is
    installed, 32 others through a GSM phone."""
    rng = np.random.default_rng(3)
    out = {"dry": features([piano_phrase(rng) for _ in range(32)]),
           "room": features([in_room(piano_phrase(rng), rng.uniform(0.8, 2.0), rng) for _ in range(32)])}
    try:
        from pianokit.conditions import phone
        out["phone"] = features([phone(piano_phrase(rng), 22050) for _ in range(32)])
    except ImportError:
        pass
    return out


def test_recipes_are_read_from_the_manifest_column():
    assert condition_checks.recipe_of(json.dumps({"rt60": 1.25, "noise": None})) == {"rt60": 1.25, "noise": None}
    for nothing in (None, float("nan"), "", "not json", "[1, 2]"):
        assert condition_checks.recipe_of(nothing) == {}
    room, phone = condition_checks.CONDITIONS["room"].label, condition_checks.CONDITIONS["phone"].label
    assert room({"rt60": 0.6}) and not room({"rt60": 0.59}) and not room({"rt60": "long"}) and not room({})
    assert phone({"phone": True}) and not phone({"phone": False}) and not phone({"phone": "yes"}) and not phone({})


def test_the_checks_tell_conditions_from_dry_recordings_they_never_saw(recordings):
    """Fitted on 24 recordings of each kind, each check flags held-out recordings made under its
    condition and neither the dry ones nor those made under the other condition."""
    kinds = [k for k in ("dry", "room", "phone") if k in recordings]
    recipe = {"dry": DRY, "room": ROOM, "phone": PHONE}
    x = np.concatenate([recordings[k][:24] for k in kinds])
    checks = condition_checks.fit(x, [recipe[k] for k in kinds for _ in range(24)], NAMES)
    assert set(checks) == set(kinds) - {"dry"} and condition_checks.valid(checks, NAMES)
    limit = condition_checks.WARN_PROBABILITY
    for name, check in checks.items():
        assert check["rows"] == 24 * len(kinds) and check["rows_under"] == 24
        for kind in kinds:
            warned = np.sum(condition_checks.probability(check, recordings[kind][24:]) >= limit)
            assert warned >= 7 if kind == name else warned <= 1, (name, kind, warned)
    p = condition_checks.probability(checks["room"], recordings["room"][24:]).max()
    assert condition_checks.warning("room", float(p), checks["room"]).startswith("reverberant room")
    assert "more than 0.6 s" in condition_checks.warning("room", float(p), checks["room"])
    assert condition_checks.warning("room", 0.1, checks["room"]) is None
    if "phone" in checks:
        assert condition_checks.warning("phone", 0.9, checks["phone"]).startswith("phone channel")


def test_rooms_shorter_than_the_limit_count_as_dry_and_too_few_rows_fit_nothing(recordings):
    x = np.concatenate([recordings["dry"], recordings["room"]])
    short = [DRY] * 32 + [{"rt60": condition_checks.ROOM_RT60_S - 0.1}] * 32
    assert condition_checks.fit(x, short, NAMES) == {}
    few = condition_checks.MIN_ROWS_PER_CLASS - 1
    assert condition_checks.fit(x, [DRY] * (64 - few) + [ROOM] * few, NAMES) == {}


def test_a_missing_feature_counts_as_the_training_mean(recordings):
    x = np.concatenate([recordings["dry"], recordings["room"]])
    check = condition_checks.fit(x, [DRY] * 32 + [ROOM] * 32, NAMES)["room"]
    row, filled = recordings["dry"][0].copy(), recordings["dry"][0].copy()
    row[3], filled[3] = np.nan, check["mean"][3]
    assert np.isfinite(condition_checks.probability(check, row)).all()
    assert condition_checks.probability(check, row) == pytest.approx(condition_checks.probability(check, filled))


def test_malformed_checks_are_not_valid(recordings):
    x = np.concatenate([recordings["dry"], recordings["room"]])
    checks = condition_checks.fit(x, [DRY] * 32 + [ROOM] * 32, NAMES)
    check = checks["room"]
    assert condition_checks.valid(checks, NAMES)
    assert not condition_checks.valid(checks, NAMES[:-1])  # reads a feature the model does not have
    assert not condition_checks.valid({"hall": check}, NAMES)  # a condition the scorer does not know
    for key, value in (("coef", check["coef"][:-1]), ("scale", [0.0] * len(NAMES)), ("mean", "x"),
                       ("intercept", float("nan")), ("features", []), ("intercept", True),
                       ("coef", [True] * len(NAMES)), ("warn_probability", "high"), ("rt60_s", None)):
        assert not condition_checks.valid({"room": {**check, key: value}}, NAMES)
    assert not condition_checks.valid({"room": {k: v for k, v in check.items() if k != "coef"}}, NAMES)
    assert not condition_checks.valid("checks", NAMES) and not condition_checks.valid({"room": "check"}, NAMES)
