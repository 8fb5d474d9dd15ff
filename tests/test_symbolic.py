import numpy as np
import pytest

from pianokit import symbolic
from pianokit.errors import InputError

from conftest import tiny_midi


def feats(path):
    return dict(zip(symbolic.FEATURES, symbolic.features(path)))


def test_timing_velocity_and_pedal_are_read_from_the_midi(tmp_path):
    notes = tuple((60 + i % 5, 0.5 * i, 0.5 * i + 0.25) for i in range(8))  # staccato quarter notes at 120 BPM
    f = feats(tiny_midi(tmp_path / "a.mid", notes=notes, velocity=100, pedal=True))
    assert f["note_count"] == 8
    assert f["ioi_mean"] == pytest.approx(0.5, abs=0.01) and f["ioi_cv"] == pytest.approx(0, abs=0.02)
    assert f["velocity_mean"] == 100 and f["velocity_std"] == 0
    assert f["articulation_mean"] == pytest.approx(0.5, abs=0.03) and f["legato_fraction"] < 0.2
    assert f["pedal_down_fraction"] > 0.9
    legato = feats(tiny_midi(tmp_path / "b.mid", notes=tuple((60, 0.5 * i, 0.5 * i + 0.6) for i in range(8)),
                             velocity=40, pedal=False))
    assert legato["legato_fraction"] > 0.8 and legato["articulation_mean"] > 1.0
    assert legato["velocity_mean"] == 40 and legato["pedal_down_fraction"] == 0


def test_bad_midi_is_one_clear_error(tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not a midi file")
    with pytest.raises(InputError, match="bad.mid"):
        symbolic.features(bad)


def test_feature_table_caches_and_skips_unreadable(tmp_path):
    good = tiny_midi(tmp_path / "good.mid")
    (tmp_path / "bad.mid").write_bytes(b"")
    cache = tmp_path / "symbolic.csv"
    table = symbolic.feature_table({"g": str(good), "b": str(tmp_path / "bad.mid")}, cache)
    assert list(table.index) == ["g"] and cache.is_file()
    stamp = cache.stat().st_mtime_ns
    again = symbolic.feature_table({"g": str(good)}, cache)
    np.testing.assert_allclose(again.loc["g"].to_numpy(), table.loc["g"].to_numpy())
    assert cache.stat().st_mtime_ns == stamp
