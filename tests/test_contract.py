"""The contract between training and scoring: light, typed, one source for every shared setting."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pianokit.contract import SEGMENT_SECONDS, FeatureConfig, ModelMetadata, Window
from pianokit.errors import InputError


def test_contract_imports_no_heavy_library():
    code = ("import sys, pianokit.contract, pianokit.inference, pianokit.metadata; "
            "heavy = [m for m in ('librosa', 'tensorflow', 'keras', 'onnxruntime', 'pandas', 'scipy') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_window_and_metadata_round_trip():
    config = FeatureConfig(features=("tempo", "rms_mean"))
    window = Window.for_crop(517)
    assert (window.frames, window.hop_frames, window.segment_seconds) == (517, 258, SEGMENT_SECONDS)
    meta = ModelMetadata(name="m", architecture="multitask", inputs=[{"name": "features", "shape": [None, 2]}],
                         feature_config=config, window=window, dimensions=("a", "b"), feature_names=("tempo", "rms_mean"),
                         extra={"created": "today"})
    again = ModelMetadata.from_dict(json.loads(json.dumps(meta.to_dict())), "m.json")
    assert again == meta and again.input_names == {"features"} and again.window.seconds(config) == 12.005


@pytest.mark.parametrize("change, needle", [
    (lambda m: m["window"].update(hop_frames=600), "hop_frames larger than frames"),
    (lambda m: m["window"].update(segment_seconds=0), "segment_seconds"),
    (lambda m: m.update(outputs=["members"]), "malformed outputs"),
    (lambda m: m["feature_config"].update(version="4"), "feature_config"),
    (lambda m: m.update(cv_metrics={"residual_quantiles": {"a": {"abs_q80": "x"}}}), "residual_quantiles"),
])
def test_bad_metadata_is_one_clear_error(change, needle):
    meta = ModelMetadata(name="m", architecture="cnn", inputs=[{"name": "mel", "shape": [None, None, 128]}],
                         feature_config=FeatureConfig(), window=Window(517, 258), dimensions=("a",)).to_dict()
    change(meta)
    with pytest.raises(InputError, match=needle):
        ModelMetadata.from_dict(meta, "m.json")


def test_one_architecture_registry_feeds_the_cli():
    from pianokit.cli import fit
    from pianokit.models import ARCHITECTURES, defaults

    arch = next(p for p in fit.params if p.name == "arch")
    assert list(arch.type.choices) == list(ARCHITECTURES)
    for name, spec in ARCHITECTURES.items():
        assert spec.summary in arch.help and isinstance(defaults(name), dict)
