"""Would musicnn's pretrained music-tagging embeddings add to the audio features? A linear and a
kernel probe on leak-free folds, beside the frozen EfficientNet-Lite0 embeddings pianokit uses now.

Usage: python bench/musicnn_probe.py [--store data/stores/multi_piano_aug0x2_comp0.3_floor35]
       [--cache data/musicnn_probe] [--out bench/results/musicnn_probe]

musicnn (Jordi Pons, ISC licence; PyPI `musicnn` 0.1.0, whose wheel holds the TensorFlow 1
checkpoints of models trained to tag MagnaTagATune (MTT) and the Million Song Dataset (MSD)) is
fetched with `pip download --no-deps`; its package is not imported (it pins numpy < 1.17). Each
checkpoint is frozen into an inference graph (variables as constants, `is_training` fed False) and
run with TensorFlow's v1 session API, so this probe needs TensorFlow; nothing in pianokit uses it.
Input as musicnn's own extractor makes it: 16 kHz mono (here level-normalised to -26 dBFS RMS),
96-band log-mel (n_fft 512, hop 256, log10(10000 x + 1)), 187-frame (3 s) patches every 62 frames
(1 s; `--patch-hop 187` is musicnn's default, patches without overlap). Per recording: the patch
means of the mid-end's max- and mean-pooled maps (753 each) and the 200-unit dense layer, 1706
numbers; cached as CACHE/emb_<model>.npy (emb_<model>_hop<N>.npy for another --patch-hop).

Rows: the store's evaluated recordings (the 1189 clean MuseScore renders), trained and tested on
them only, as bench/oracle_features.py. Both splits of pianokit.training_data (the fold's
validation rows joined to its training rows). Each embedding is standardised and reduced by PCA to
K components fitted on the fold's training rows (pianokit.kernel_ridge.EmbeddingProjection: each
unit's SD floored at the median unit's and at least 1e-3 of the largest, standard scores clipped at
+-5), then put beside the 115 audio features; ridge (the in-house
baseline, penalty by grouped inner CV) and pianokit.kernel_ridge (RBF, penalty 3, width 0.5, fixed
beforehand as in bench/kernel_blend.py's exploration) predict the 19 ratings.
Beside them, on the same folds: training mean, the player's training mean, and the symbolic
reference (ridge on the store's symbolic.csv, MIDI-derived).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from result_files import write_table  # noqa: E402

from pianokit.baselines import player_mean, predict_all, ridge, train_mean  # noqa: E402
from pianokit.dimensions import DIMENSIONS  # noqa: E402
from pianokit.feature_names import ALL_FEATURES, SYMBOLIC_FEATURES, resolve_features  # noqa: E402
from pianokit.metrics import aggregate, evaluate  # noqa: E402
from pianokit.training_data import load_training_data, make_folds, split_groups  # noqa: E402

MODELS = ("MTT_musicnn", "MSD_musicnn")
SR, N_FFT, HOP, N_MELS, PATCH, PATCH_HOP = 16000, 512, 256, 96, 187, 62
MTT_TAGS = ('guitar', 'classical', 'slow', 'techno', 'strings', 'drums', 'electronic', 'rock', 'fast', 'piano',
              'ambient', 'beat', 'violin', 'vocal', 'synth', 'female', 'indian', 'opera', 'male', 'singing',
              'vocals', 'no vocals', 'harpsichord', 'loud', 'quiet', 'flute', 'woman', 'male vocal', 'no vocal',
              'pop', 'soft', 'sitar', 'solo', 'man', 'classic', 'choir', 'voice', 'new age', 'dance',
              'male voice', 'female vocal', 'beats', 'harp', 'cello', 'no voice', 'weird', 'country', 'metal',
              'female voice', 'choral')
OUTPUTS = ("model/Max:0", "model/moments/Squeeze:0", "model/dense/Relu:0")
COMBOS = {"audio": (), "audio + Lite0": ("lite0",), "audio + MTT": ("MTT_musicnn",),
          "audio + MSD": ("MSD_musicnn",), "audio + Lite0 + MTT": ("lite0", "MTT_musicnn"),
          "audio + Lite0 + MSD": ("lite0", "MSD_musicnn")}


def fetch_checkpoints(cache: Path) -> Path:
    """musicnn's package folder, unpacked from its wheel (fetched once, without dependencies)."""
    folder = cache / "musicnn"
    if not (folder / "MSD_musicnn" / ".index").is_file():
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "musicnn==0.1.0", "-d", tmp],
                           check=True)
            with zipfile.ZipFile(next(Path(tmp).glob("musicnn-*.whl"))) as wheel:
                wheel.extractall(cache)
    return folder


def frozen_graph(checkpoint: Path):
    """The inference part of a musicnn checkpoint's graph, its variables as constants."""
    import tensorflow as tf
    from tensorflow.core.framework import graph_pb2
    from tensorflow.core.protobuf import meta_graph_pb2
    from tensorflow.python.training import py_checkpoint_reader

    meta = meta_graph_pb2.MetaGraphDef()
    meta.ParseFromString((checkpoint / ".meta").read_bytes())
    reader = py_checkpoint_reader.NewCheckpointReader(str(checkpoint) + "/")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sub = tf.compat.v1.graph_util.extract_sub_graph(meta.graph_def, ["model/Sigmoid"])
    frozen = graph_pb2.GraphDef()
    for node in sub.node:
        out = frozen.node.add()
        if node.op == "VariableV2":
            value = reader.get_tensor(node.name)
            out.name, out.op = node.name, "Const"
            out.attr["dtype"].type = tf.as_dtype(value.dtype).as_datatype_enum
            out.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
        else:
            out.CopyFrom(node)
            for stale in ("_output_shapes", "_class"):
                if stale in out.attr:
                    del out.attr[stale]
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(frozen, name="")
    return tf.compat.v1.Session(graph=graph)


def patches(path: str, hop: int = PATCH_HOP) -> np.ndarray:
    """(patches, 187, 96) musicnn inputs of one recording."""
    import soundfile as sf

    y, sr = sf.read(path, dtype="float32", always_2d=True)
    return patches_of(y.mean(axis=1), sr, hop)


def patches_of(y: np.ndarray, sr: int, hop: int = PATCH_HOP) -> np.ndarray:
    """(patches, 187, 96) musicnn inputs of mono audio ``y``, patches ``hop`` frames apart."""
    import librosa

    y = librosa.resample(y, orig_sr=sr, target_sr=SR)
    y = y / (np.sqrt(np.mean(y ** 2)) + 1e-9) * 0.05
    mel = librosa.feature.melspectrogram(y=y, sr=SR, hop_length=HOP, n_fft=N_FFT, n_mels=N_MELS).T
    mel = np.log10(10000 * mel + 1).astype(np.float32)
    if len(mel) < PATCH:
        mel = np.pad(mel, ((0, PATCH - len(mel)), (0, 0)))
    return np.stack([mel[s:s + PATCH] for s in range(0, len(mel) - PATCH + 1, hop)])


def embed(sessions: dict, path: str | None = None, x: np.ndarray | None = None,
          hop: int = PATCH_HOP) -> dict[str, np.ndarray]:
    """{model: embedding} of the recording at ``path`` (patches ``hop`` frames apart), or of musicnn
    inputs ``x``."""
    x = patches(path, hop) if x is None else x
    out = {}
    for name, session in sessions.items():
        top, mean, dense = session.run(list(OUTPUTS), {"model/Placeholder:0": x, "model/Placeholder_2:0": False})
        out[name] = np.concatenate([top[..., 0].mean(0), mean[..., 0].mean(0), dense.mean(0)])
    return out


def check_tags(session, example: Path) -> list[str]:
    """The MTT model's top-5 tags of a piano recording: proof the weights were loaded."""
    probs = session.run("model/Sigmoid:0", {"model/Placeholder:0": patches(str(example)),
                                            "model/Placeholder_2:0": False}).mean(axis=0)
    return [MTT_TAGS[i] for i in np.argsort(-probs)[:5]]


def embeddings(table: pd.DataFrame, cache: Path,
               hop: int = PATCH_HOP) -> tuple[dict[str, np.ndarray], float, list[str]]:
    """{model: (rows, 1706)}, the seconds spent computing them (0 when cached) and the MTT check."""
    folder = fetch_checkpoints(cache)
    sessions = {name: frozen_graph(folder / name) for name in MODELS}
    top5 = check_tags(sessions["MTT_musicnn"], Path(__file__).parents[1] / "data" / "examples" /
                      "Schubert_D935_no.3_4bars_12_1.wav")
    suffix = "" if hop == PATCH_HOP else f"_hop{hop}"
    files = {name: cache / f"emb_{name}{suffix}.npy" for name in MODELS}
    seconds = 0.0
    if not all(f.is_file() for f in files.values()):
        start = time.perf_counter()
        rows = [embed(sessions, path, hop=hop) for path in table["audio"]]
        for name, f in files.items():
            np.save(f, np.array([r[name] for r in rows]))
        seconds = time.perf_counter() - start
    return {name: np.load(f) for name, f in files.items()}, seconds, top5


def reduce(e: np.ndarray, train: np.ndarray, test: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """K principal components of the standardised embedding, fitted on ``train``
    (pianokit.kernel_ridge.EmbeddingProjection: SD floor, clipping at +-5 SD, PCA)."""
    from pianokit.kernel_ridge import EmbeddingProjection

    projection = EmbeddingProjection.fit(e[train], k)
    return projection(e[train]), projection(e[test])


def lite0_means(store: Path, ids) -> np.ndarray:
    """Each recording's mean Lite0 window embedding from the store's cache, in double precision."""
    folder = next((store / "embeddings").glob("lite0-imagenet-*"))
    return np.array([np.load(folder / f"{i}.npy").astype(np.float64).mean(axis=0) for i in ids])


def kernel_ridge(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    """pianokit's kernel ridge (`fit --kernel-ridge`) at fixed settings, on standardised inputs."""
    from sklearn.preprocessing import StandardScaler

    from pianokit.kernel_ridge import fit

    scale = StandardScaler().fit(x_train)
    return fit(scale.transform(x_train), y_train, alpha=3.0, width=0.5).predict(scale.transform(x_test))


def audio_rows(store: Path):
    """A store's labelled rows (pianokit.training_data), their 115 audio features (`--features all`)
    and their labels, both in double precision."""
    data = load_training_data(store, with_mels=False)
    names = list(data.store.config.features)
    x = data.features[:, [names.index(f) for f in resolve_features("all")]].astype(np.float64)
    return data, x, data.labels.astype(np.float64)


def baseline_evals(data, x: np.ndarray, y: np.ndarray, fold) -> dict[str, dict]:
    """Each in-house baseline (pianokit.baselines) fitted on ``fold``'s training and early-stopping
    rows, evaluated on its test rows."""
    fit_rows = np.concatenate([fold.train, fold.val])
    return {name: evaluate(y[fold.test], p, DIMENSIONS, data.passages[fold.test])
            for name, p in predict_all(y, fit_rows, fold.test, data.table, x, data.symbolic).items()}


def scores(evals: list[dict]) -> dict:
    s = aggregate(evals, DIMENSIONS)
    return {"r2": s["mean"]["r2"], "r": s["mean"]["r"], "wp_r2": s["within_passage"]["mean"]["r2"],
            "wp_r": s["within_passage"]["mean"]["r"]}


def split_scores(table: pd.DataFrame, y: np.ndarray, per_fold) -> dict[str, dict]:
    """{name: {split: scores}} over every fold of both splits of the evaluated rows ``table``;
    ``per_fold(fold, train, test, add)`` predicts the fold's test rows (train: its training and
    validation rows) and records them with ``add(name, prediction)``."""
    passages = table["passage"].to_numpy()
    results: dict[str, dict] = {}
    for split in ("passage", "performer"):
        evals: dict[str, list] = {}
        for fold in make_folds(table, split):
            train, test = np.concatenate([fold.train, fold.val]), fold.test

            def add(name, pred, test=test):
                evals.setdefault(name, []).append(evaluate(y[test], pred, DIMENSIONS, passages[test]))

            per_fold(fold, train, test, add)
        for name, e in evals.items():
            results.setdefault(name, {})[split] = scores(e)
    return results


PROBE_HEADER = ["| features | model | R² | within-passage R² | within-passage r | new players: R² | "
                "new players: within-passage R² | new players: within-passage r |", "|---|---|---|---|---|---|---|---|"]


def probe_rows(results: dict[str, dict]) -> list[str]:
    """PROBE_HEADER and a row per "features | model" name of ``split_scores``' results."""
    lines = list(PROBE_HEADER)
    for name, r in results.items():
        label, _, model = name.partition(" | ")
        p, q = r["passage"], r["performer"]
        lines.append(f"| {label} | {model or '-'} | {p['r2']:.3f} | {p['wp_r2']:.3f} | {p['wp_r']:.3f} | "
                     f"{q['r2']:.3f} | {q['wp_r2']:.3f} | {q['wp_r']:.3f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=Path("data/stores/multi_piano_aug0x2_comp0.3_floor35"))
    parser.add_argument("--cache", type=Path, default=Path("data/musicnn_probe"))
    parser.add_argument("--components", type=int, nargs="+", default=[16, 48])
    parser.add_argument("--patch-hop", type=int, default=PATCH_HOP,
                        help="frames between musicnn's 187-frame patches "
                             "(62: 1 s; 187: 3 s, no overlap, musicnn's default)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    args.cache.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    table = pd.read_csv(args.store / "manifest.csv")
    table = table[table["eval"] == 1].reset_index(drop=True)
    ids = table["segment_id"].tolist()
    audio = pd.read_csv(args.store / "features.csv").set_index("id").loc[ids, list(ALL_FEATURES)].to_numpy(float)
    symbolic = pd.read_csv(args.store / "symbolic.csv").set_index("id").loc[ids, list(SYMBOLIC_FEATURES)]
    emb, embed_s, top5 = embeddings(table, args.cache, args.patch_hop)
    emb["lite0"] = lite0_means(args.store, ids)
    y = table[list(DIMENSIONS)].to_numpy(float)
    groups = split_groups(table)
    players = table["performer"].astype(str).to_numpy()

    def per_fold(fold, train, test, add):
        add("training mean", train_mean(y[train], len(test)))
        add("player mean", player_mean(y[train], players[train], players[test]))
        add("symbolic reference (ridge, MIDI)",
            ridge(symbolic.to_numpy(float)[train], y[train], symbolic.to_numpy(float)[test], groups[train]))
        for k in args.components:
            for combo, parts in COMBOS.items():
                if not parts and k != args.components[0]:
                    continue
                reduced = [reduce(emb[p], train, test, k) for p in parts]
                x_train = np.nan_to_num(np.hstack([audio[train], *[r[0] for r in reduced]]))
                x_test = np.nan_to_num(np.hstack([audio[test], *[r[1] for r in reduced]]))
                label = combo if not parts else f"{combo} (PCA {k} each)"
                add(f"{label} | ridge", ridge(x_train, y[train], x_test, groups[train]))
                add(f"{label} | kernel ridge", kernel_ridge(x_train, y[train], x_test))

    results = split_scores(table, y, per_fold)
    lines = [f"Probe on the {len(table)} clean MuseScore renders of `{args.store}` (the evaluated rows), leak-free "
             "folds, means over the folds' test sets; \"new players\" is the performer split. musicnn's MTT model "
             f"tags data/examples/Schubert_D935_no.3_4bars_12_1.wav as {', '.join(top5)} (weights loaded).", "",
             *probe_rows(results)]
    wall = time.perf_counter() - start
    lines += ["", f"Patches {args.patch_hop} frames apart. Embeddings (both musicnn models, TensorFlow, 2 cores): "
              f"{embed_s:.0f} s for {len(table)} recordings (0 = cached); wall time {wall:.0f} s."]
    write_table(args.out, "musicnn_probe", lines, {"rows": len(table), "store": str(args.store),
                                                    "mtt_top5_example": top5, "results": results,
                                                    "patch_hop": args.patch_hop, "embed_s": round(embed_s, 1),
                                                    "wall_s": round(wall, 1)})


if __name__ == "__main__":
    main()
