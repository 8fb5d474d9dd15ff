"""Rewrite narrow convolutions of an ONNX model so ONNX Runtime's CPU kernels do no wasted work.

ONNX Runtime runs convolutions in a blocked channel layout (NCHWc, blocks of 16 output channels with
AVX-512), so a convolution with 1 or 8 output channels computes 16 and throws most away. Phase packing
makes the same sums useful: ``p x q`` neighbouring outputs (p rows, q columns) become ``p * q`` groups of
output channels of one convolution with p and q times the strides and a kernel ``stride * (p - 1)`` rows
and ``stride * (q - 1)`` columns larger (each group holds the original kernel, shifted by its phase), and
a reshape and transpose put the outputs back in order. Every output is the same weighted sum as before.
Used offline (needs the ``onnx`` package) by ``python -m pianokit.phase_packing`` to make
``assets/basic_pitch/nmp_cpu.onnx``, the transcription model the CPU runs; the scorer only loads it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ELEMENTWISE = ("Relu", "Sigmoid")
# basic-pitch's narrow convolutions (node-name prefix -> phases): the 8-channel 3 x 39 contour layer, the
# 1-channel contour, note and CQT-downsampling layers. Chosen by timing on this project's CPU (AVX-512):
# packing rows too (4 x 4) beat columns only (16 or 8) for the two 1-channel 2-D layers.
BASIC_PITCH_PLAN = {
    "model_1/re_lu_1/Relu": (1, 4),
    "model_1/contours-reduced/BiasAdd": (4, 4),
    "model_1/conv2d_3/BiasAdd": (4, 4),
    **{f"model_1/cq_t2010v2_1/conv1d_{i};": (1, 16) for i in (2, 5, 8, 11, 14, 17, 20, 23)},
}


def output_shapes(model, names: list[str], window: np.ndarray) -> dict[str, tuple[int, int]]:
    """(height, width) of each named 4-D tensor when ``model`` runs on ``window``."""
    import onnx
    import onnxruntime as ort

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.graph.output.extend(onnx.helper.make_empty_tensor_value_info(name) for name in names)
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    outs = session.run(names, {session.get_inputs()[0].name: window})
    return {name: tuple(out.shape[-2:]) for name, out in zip(names, outs)}


def phase_pack(model, conv_name: str, phases: tuple[int, int], shape: tuple[int, int]) -> None:
    """Replace Conv node ``conv_name`` (output ``shape`` = (height, width)) in ``model`` by its form
    with ``phases`` = (rows, columns) packed into channels; an elementwise activation that alone reads
    the convolution moves before the reshapes, so ONNX Runtime can still fuse it into the convolution."""
    from onnx import helper, numpy_helper

    graph = model.graph
    index, conv = next((i, n) for i, n in enumerate(graph.node) if n.name == conv_name)
    attrs = {a.name: helper.get_attribute_value(a) for a in conv.attribute}
    if attrs.get("group", 1) != 1 or list(attrs.get("dilations", [1, 1])) != [1, 1] or "auto_pad" in attrs:
        raise ValueError(f"{conv_name}: only ungrouped, undilated convolutions with explicit pads")
    strides = list(attrs.get("strides", [1, 1]))
    inits = {i.name: i for i in graph.initializer}
    w = numpy_helper.to_array(inits[conv.input[1]])
    b = numpy_helper.to_array(inits[conv.input[2]]) if len(conv.input) > 2 else np.zeros(w.shape[0], w.dtype)
    c_out, c_in = w.shape[:2]
    kernel = w.shape[2:]
    grown = [k + s * (p - 1) for k, s, p in zip(kernel, strides, phases)]
    packed = np.zeros((phases[0] * phases[1] * c_out, c_in, *grown), w.dtype)
    for row in range(phases[0]):
        for col in range(phases[1]):
            first = (row * phases[1] + col) * c_out
            top, left = row * strides[0], col * strides[1]
            packed[first:first + c_out, :, top:top + kernel[0], left:left + kernel[1]] = w
    cells = [-(-n // p) for n, p in zip(shape, phases)]  # output rows and columns of the packed convolution
    pads = list(attrs.get("pads", [0, 0, 0, 0]))  # top, left, bottom, right
    for axis in (0, 1):
        size_in = (shape[axis] - 1) * strides[axis] + kernel[axis] - pads[axis] - pads[axis + 2]  # input read
        pads[axis + 2] = max(0, (cells[axis] - 1) * strides[axis] * phases[axis] + grown[axis] - size_in - pads[axis])

    readers = [n for n in graph.node if conv.output[0] in n.input]
    outputs = {o.name for o in graph.output}
    act = readers[0] if (len(readers) == 1 and readers[0].op_type in ELEMENTWISE
                         and conv.output[0] not in outputs) else None
    final = act.output[0] if act else conv.output[0]
    tag = conv.name.split(";")[0].replace("/", "_") + f"_phase{phases[0]}x{phases[1]}"

    def const(suffix, value):
        graph.initializer.append(numpy_helper.from_array(np.asarray(value), tag + suffix))
        return tag + suffix

    nodes = [helper.make_node("Conv", [conv.input[0], const("_w", packed), const("_b", np.tile(b, phases[0] * phases[1]))],
                              [tag + "_conv"], name=tag + "_conv", kernel_shape=grown,
                              strides=[s * p for s, p in zip(strides, phases)], pads=pads, dilations=[1, 1], group=1)]
    last = tag + "_conv"
    if act:
        nodes.append(helper.make_node(act.op_type, [last], [tag + "_act"], name=tag + "_act"))
        last = tag + "_act"
    exact = [c * p == n for c, p, n in zip(cells, phases, shape)]
    flat = final if all(exact) else tag + "_flat"
    if phases[0] == 1:  # columns only: one batched 2-D transpose, which ONNX Runtime runs 5x faster than 6-D
        split, perm = np.array([0, phases[1], -1]), [0, 2, 1]
    else:
        split, perm = np.array([0, *phases, c_out, -1, cells[1]]), [0, 3, 4, 1, 5, 2]
    nodes += [helper.make_node("Reshape", [last, const("_split", split)], [tag + "_phases"], name=tag + "_split"),
              helper.make_node("Transpose", [tag + "_phases"], [tag + "_interleaved"], name=tag + "_interleave",
                               perm=perm),
              helper.make_node("Reshape", [tag + "_interleaved",
                                           const("_merge", np.array([0, c_out, cells[0] * phases[0], -1]))],
                               [flat], name=tag + "_merge")]
    if flat != final:
        nodes.append(helper.make_node("Slice", [flat, const("_start", np.array([0, 0])), const("_end", np.array(shape)),
                                                const("_axes", np.array([2, 3]))], [final], name=tag + "_crop"))
    graph.node.remove(conv)
    if act:
        graph.node.remove(act)
    for offset, node in enumerate(nodes):
        graph.node.insert(index + offset, node)


def drop_unused_initializers(model) -> None:
    used = {name for node in model.graph.node for name in node.input}
    keep = [i for i in model.graph.initializer if i.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep)


def pack_model(model, plan: dict[str, tuple[int, int]], window: np.ndarray):
    """A copy of ``model`` with each Conv whose name starts with a key of ``plan`` phase-packed."""
    import onnx

    packed = onnx.ModelProto()
    packed.CopyFrom(model)
    names = {prefix: next(n.name for n in model.graph.node if n.op_type == "Conv" and n.name.startswith(prefix))
             for prefix in plan}
    convs = {n.name: n.output[0] for n in model.graph.node if n.name in names.values()}
    shapes = output_shapes(model, list(convs.values()), window)
    for prefix, phases in plan.items():
        phase_pack(packed, names[prefix], phases, shapes[convs[names[prefix]]])
    drop_unused_initializers(packed)
    onnx.checker.check_model(packed)
    return packed


def main(argv: list[str] | None = None) -> None:
    import onnx

    from pianokit import transcribe

    parser = argparse.ArgumentParser(description="Write the phase-packed CPU copy of basic-pitch's model.")
    parser.add_argument("--out", type=Path, default=transcribe.CPU_MODEL_PATH)
    args = parser.parse_args(argv)
    window = np.zeros((1, transcribe.WINDOW_SAMPLES, 1), np.float32)
    onnx.save(pack_model(onnx.load(transcribe.MODEL_PATH), BASIC_PITCH_PLAN, window), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
