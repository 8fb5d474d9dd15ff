"""Phase packing rewrites a convolution without changing what it computes, and the shipped CPU copy of
the transcription model is basic-pitch's model, phase-packed, with the same outputs."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
import onnxruntime as ort  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from pianokit import phase_packing, transcribe  # noqa: E402


def conv_model(c_in, c_out, kernel, strides, pads, act, width, rng):
    """x (N, c_in, 7, width) -> Conv [-> act] -> y, with random weights."""
    w = rng.standard_normal((c_out, c_in, *kernel)).astype(np.float32)
    b = rng.standard_normal(c_out).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c" if act else "y"], name="the_conv;fused",
                              kernel_shape=list(kernel), strides=list(strides), pads=list(pads))]
    if act:
        nodes.append(helper.make_node(act, ["c"], ["y"], name="act"))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", c_in, 7, width])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", c_out, "h", "w"])],
                              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def run(model, x):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


@pytest.mark.parametrize("c_in,c_out,kernel,strides,pads,act,width,phases", [
    (8, 8, (3, 39), (1, 1), (1, 19, 1, 19), "Relu", 264, (1, 4)),   # basic-pitch's contour layer
    (8, 1, (5, 5), (1, 1), (2, 2, 2, 2), "Sigmoid", 264, (1, 16)),  # width not a multiple of the phases
    (8, 1, (5, 5), (1, 1), (2, 2, 2, 2), "Sigmoid", 264, (4, 4)),   # rows too: 7 not a multiple of 4
    (32, 1, (7, 3), (1, 1), (3, 1, 3, 1), None, 88, (1, 8)),
    (1, 1, (1, 256), (1, 2), (0, 0, 0, 0), None, 1001, (1, 16)),    # strided, no padding, odd width
    (3, 5, (3, 4), (2, 3), (1, 0, 1, 2), "Relu", 50, (3, 3)),
])
def test_a_phase_packed_convolution_computes_the_same_outputs(c_in, c_out, kernel, strides, pads, act, width, phases):
    rng = np.random.default_rng(0)
    model = conv_model(c_in, c_out, kernel, strides, pads, act, width, rng)
    x = rng.standard_normal((2, c_in, 7, width)).astype(np.float32)
    expected = run(model, x)
    packed = phase_packing.pack_model(model, {"the_conv": phases}, x[:1])
    conv = next(n for n in packed.graph.node if n.op_type == "Conv")
    assert helper.get_attribute_value(next(a for a in conv.attribute if a.name == "strides")) == [
        s * p for s, p in zip(strides, phases)]
    assert [i.name for i in packed.graph.initializer if i.name in ("w", "b")] == []  # the old weights are gone
    got = run(packed, x)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


def test_grouped_convolutions_are_refused():
    rng = np.random.default_rng(1)
    model = conv_model(4, 4, (3, 3), (1, 1), (1, 1, 1, 1), None, 20, rng)
    model.graph.node[0].attribute.append(helper.make_attribute("group", 2))
    model.graph.initializer[0].CopyFrom(numpy_helper.from_array(rng.standard_normal((4, 2, 3, 3)).astype(np.float32), "w"))
    with pytest.raises(ValueError, match="ungrouped"):
        phase_packing.pack_model(model, {"the_conv": (1, 2)}, rng.standard_normal((1, 4, 7, 20)).astype(np.float32))


def both_models(batch):
    outs = []
    for path in (transcribe.MODEL_PATH, transcribe.CPU_MODEL_PATH):
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        outs.append(session.run(None, {session.get_inputs()[0].name: batch}))
    return outs


def test_the_shipped_cpu_model_is_basic_pitch_phase_packed_with_the_same_outputs(tmp_path):
    rng = np.random.default_rng(2)
    t = np.arange(transcribe.WINDOW_SAMPLES) / transcribe.SAMPLE_RATE
    chord = sum(np.sin(2 * np.pi * f * t) * np.exp(-2 * t) for f in (261.6, 329.6, 392.0)) * 0.2
    batch = np.stack([chord, 0.05 * rng.standard_normal(len(t))]).astype(np.float32)[:, :, None]
    original, packed = both_models(batch)
    for a, b in zip(original, packed):
        np.testing.assert_allclose(b, a, atol=1e-5)
    shipped = onnx.load(transcribe.CPU_MODEL_PATH)
    phase_packing.main(["--out", str(tmp_path / "made.onnx")])
    made = onnx.load(tmp_path / "made.onnx")
    assert [(n.op_type, n.name) for n in made.graph.node] == [(n.op_type, n.name) for n in shipped.graph.node]
    names = [n.name for n in onnx.load(transcribe.MODEL_PATH).graph.node if n.op_type == "Conv"]
    for prefix in phase_packing.BASIC_PITCH_PLAN:
        original_name = next(n for n in names if n.startswith(prefix))
        assert original_name not in {n.name for n in shipped.graph.node}


def test_the_packed_copy_runs_on_x86_64_cpus_only():
    assert transcribe.model_path(False, "x86_64") == transcribe.model_path(False, "AMD64") == transcribe.CPU_MODEL_PATH
    assert transcribe.model_path(False, "arm64") == transcribe.model_path(False, "aarch64") == transcribe.MODEL_PATH
    assert transcribe.model_path(True, "x86_64") == transcribe.MODEL_PATH


@pytest.mark.parametrize("seconds", [0.01, 1.0, 1.64, 1.65, 3.3, 18.0])
def test_posteriors_run_only_the_windows_whose_frames_are_kept(seconds):
    """Every frame of the recording, equal to running every window as basic-pitch does (one thread)."""
    rng = np.random.default_rng(3)
    y = (0.1 * rng.standard_normal(int(seconds * transcribe.SAMPLE_RATE))).astype(np.float32)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(transcribe.model_path(False)), options, providers=["CPUExecutionProvider"])
    overlap = transcribe.OVERLAP_FRAMES * transcribe.FFT_HOP
    padded = np.concatenate([np.zeros(overlap // 2, np.float32), y, np.zeros(transcribe.WINDOW_SAMPLES, np.float32)])
    starts = range(0, len(y) + overlap // 2, transcribe.WINDOW_SAMPLES - overlap)
    every = np.stack([padded[i:i + transcribe.WINDOW_SAMPLES] for i in starts])[:, :, None]
    note = session.run(["StatefulPartitionedCall:1"], {session.get_inputs()[0].name: every})[0]
    n_frames = int(len(y) * transcribe.FRAME_RATE / transcribe.SAMPLE_RATE)
    half = transcribe.OVERLAP_FRAMES // 2
    expected = note[:, half:-half].reshape(-1, note.shape[-1])[:n_frames]
    original = transcribe._session
    transcribe._session = lambda on_cuda=False: session
    try:
        got = transcribe.posteriors(y)["note"]
    finally:
        transcribe._session = original
    assert got.shape == (n_frames, 88)
    np.testing.assert_array_equal(got, expected)
