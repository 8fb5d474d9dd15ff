"""Kernel ridge regression on the hand-made features, fitted in closed form: the `fit --kernel-ridge`
member that is blended with a network ensemble.

RBF kernel on standardised features, k(a, b) = exp(-gamma |a - b|^2), gamma = width / n_features.
With at most MAX_CENTRES training rows the solution is exact, (K + alpha I) c = y; with more it is
the Nystroem solution on MAX_CENTRES rows drawn with the seed, (K_nm' K_nm + alpha K_mm) c = K_nm' y,
so the exported graph stays small. The penalty, the width and the blend weight are chosen on the
early-stopping split (fits on the training rows rating it), never on a test fold; the member is
then fitted again on the training and early-stopping rows together.

With ``--kernel-components K`` (a frozen backbone's cached embeddings) the kernel ridge also reads
K principal components of the embedding (EmbeddingProjection): fitted on each training recording's
mean embedding, applied to every window in the graph, the windows' ratings averaged as the network's
are (bench/kernel_lite0.py measured the gain; applying it per window rates as the mean does).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve
from sklearn.metrics import r2_score

from pianokit.inference import mean_by_owner

MAX_CENTRES = 4000
ALPHAS = (0.3, 1.0, 3.0, 10.0)
WIDTHS = (0.25, 0.5, 1.0)
BLEND_WEIGHTS = (0.0, 0.25, 0.5, 0.75)
JITTER = 1e-8
CLIP_SD = 5.0
DEAD_UNIT = 1e-3  # a unit whose SD is under this share of the largest unit's carries float noise only


def rbf(a: np.ndarray, b: np.ndarray, gamma: float) -> np.ndarray:
    """The kernel matrix between the rows of ``a`` and ``b``."""
    d2 = (a * a).sum(1)[:, None] - 2 * a @ b.T + (b * b).sum(1)[None, :]
    return np.exp(-gamma * np.maximum(d2, 0.0))


@dataclass
class KernelRidgeFit:
    """A fitted kernel ridge: ratings = rbf(z, centres, gamma) @ coef + offset, z standardised."""

    centres: np.ndarray
    coef: np.ndarray
    gamma: float
    offset: np.ndarray
    alpha: float
    width: float

    def predict(self, z: np.ndarray) -> np.ndarray:
        return rbf(np.asarray(z, np.float64), self.centres, self.gamma) @ self.coef + self.offset


def fit(z: np.ndarray, y: np.ndarray, alpha: float, width: float, seed: int = 0) -> KernelRidgeFit:
    """Kernel ridge of ``y`` on standardised ``z``: exact up to MAX_CENTRES rows, Nystroem above."""
    return _fits(z, y, [alpha], width, seed)[0]


def _fits(z: np.ndarray, y: np.ndarray, alphas, width: float, seed: int) -> list[KernelRidgeFit]:
    """One fit per penalty in ``alphas`` at one kernel width, sharing the kernel matrices."""
    z, y = np.asarray(z, np.float64), np.asarray(y, np.float64)
    offset = y.mean(0)
    target = y - offset
    n, dims = z.shape
    gamma = width / dims
    exact = n <= MAX_CENTRES
    rows = np.arange(n) if exact else np.sort(np.random.default_rng(seed).choice(n, MAX_CENTRES, replace=False))
    k_nm = rbf(z, z[rows], gamma)
    if not exact:
        normal, rhs, k_mm = k_nm.T @ k_nm, k_nm.T @ target, k_nm[rows]
    out = []
    for alpha in alphas:
        if exact:
            coef = solve(k_nm + alpha * np.eye(n), target, assume_a="pos")
        else:
            coef = solve(normal + alpha * k_mm + JITTER * np.eye(len(rows)), rhs, assume_a="sym")
        out.append(KernelRidgeFit(z[rows], coef, gamma, offset, alpha, width))
    return out


def select(z_train: np.ndarray, y_train: np.ndarray, z_val: np.ndarray, y_val: np.ndarray,
           seed: int = 0, val_owner: np.ndarray | None = None) -> KernelRidgeFit:
    """The kernel ridge fitted on the training rows, over ALPHAS x WIDTHS, that rates the validation
    rows best (mean R²). With ``val_owner``, ``z_val`` holds windows and a recording's rating is the
    mean of its windows' (``val_owner[i]``: the recording of window i, a row of ``y_val``)."""
    def rated(f: KernelRidgeFit) -> np.ndarray:
        pred = f.predict(z_val)
        return pred if val_owner is None else mean_by_owner(pred, val_owner, len(y_val))

    candidates = [f for width in WIDTHS for f in _fits(z_train, y_train, ALPHAS, width, seed)]
    return max(candidates, key=lambda f: r2_score(y_val, rated(f)))


def blend_weight(y_val: np.ndarray, network: np.ndarray, kernel: np.ndarray) -> float:
    """The share of the kernel ridge in the blend (BLEND_WEIGHTS) that rates the validation rows best."""
    return max(BLEND_WEIGHTS, key=lambda w: r2_score(y_val, (1 - w) * network + w * kernel))


@dataclass
class EmbeddingProjection:
    """Embedding -> K standardised principal components: z = clip((e - mean) / sd, +-CLIP_SD), then
    (z @ kernel + bias). Each unit's SD is floored at the median unit's and the scores clipped, since
    rarely active units would otherwise turn one recording into tens of SDs; the floor is at least
    DEAD_UNIT x the largest unit's SD, so an embedding with mostly dead units (musicnn's) does not
    blow their float noise up to unit SD. The components are scaled to unit SD on the training rows,
    like the standardised features beside them."""

    mean: np.ndarray
    sd: np.ndarray
    kernel: np.ndarray
    bias: np.ndarray

    def __call__(self, e: np.ndarray) -> np.ndarray:
        z = np.clip((np.asarray(e, np.float64) - self.mean) / self.sd, -CLIP_SD, CLIP_SD)
        return z @ self.kernel + self.bias

    @classmethod
    def fit(cls, e: np.ndarray, components: int) -> "EmbeddingProjection":
        """Fitted on the rows of ``e`` (one mean embedding per training recording)."""
        from sklearn.decomposition import PCA

        e = np.asarray(e, np.float64)  # float32 makes PCA's randomised solver a less exact fit
        if components > min(e.shape):
            raise ValueError(f"{components} components from {len(e)} recordings of {e.shape[1]} numbers")
        mean, sd = e.mean(axis=0), e.std(axis=0)
        sd = np.maximum(sd, max(np.median(sd), DEAD_UNIT * sd.max(), 1e-12))
        z = np.clip((e - mean) / sd, -CLIP_SD, CLIP_SD)
        pca = PCA(components, random_state=0).fit(z)
        scores = pca.transform(z)
        shift, scale = scores.mean(axis=0), scores.std(axis=0)
        scale = np.where(scale > 1e-9, scale, 1.0)
        kernel = pca.components_.T / scale
        return cls(mean, sd, kernel, -(pca.mean_ @ pca.components_.T + shift) / scale)
