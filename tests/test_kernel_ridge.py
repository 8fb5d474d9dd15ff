import numpy as np
import pytest
from sklearn.metrics import r2_score

from pianokit import kernel_ridge


def planted(n: int, seed: int = 0):
    """A nonlinear planted signal in 6 standardised features: a bump in one and a product of two."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 6))
    y = np.stack([np.exp(-z[:, 0] ** 2), 0.5 * z[:, 1] * z[:, 2]], axis=1) + 0.05 * rng.standard_normal((n, 2))
    return z, y


def test_exact_fit_is_sklearns_kernel_ridge():
    from sklearn.kernel_ridge import KernelRidge

    z, y = planted(300)
    ours = kernel_ridge.fit(z, y, alpha=1.0, width=0.5)
    theirs = KernelRidge(alpha=1.0, kernel="rbf", gamma=0.5 / 6).fit(z, y - y.mean(0))
    test, _ = planted(50, seed=1)
    np.testing.assert_allclose(ours.predict(test), theirs.predict(test) + y.mean(0), atol=1e-8)
    assert len(ours.centres) == 300


def test_nystroem_above_the_centre_limit_stays_close_to_the_exact_fit(monkeypatch):
    z, y = planted(600)
    test, truth = planted(200, seed=1)
    exact = kernel_ridge.fit(z, y, alpha=1.0, width=0.5).predict(test)
    monkeypatch.setattr(kernel_ridge, "MAX_CENTRES", 200)
    approx = kernel_ridge.fit(z, y, alpha=1.0, width=0.5, seed=3)
    assert len(approx.centres) == 200
    assert np.abs(approx.predict(test) - exact).mean() < 0.1 * np.abs(exact - exact.mean(0)).mean()
    assert r2_score(truth, approx.predict(test)) > r2_score(truth, exact) - 0.03


def test_select_learns_a_signal_a_linear_model_cannot():
    from sklearn.linear_model import Ridge

    z, y = planted(400)
    val_z, val_y = planted(150, seed=1)
    test_z, test_y = planted(300, seed=2)
    chosen = kernel_ridge.select(z, y, val_z, val_y)
    assert chosen.alpha in kernel_ridge.ALPHAS and chosen.width in kernel_ridge.WIDTHS
    assert r2_score(test_y, chosen.predict(test_z)) > 0.8
    assert r2_score(test_y, Ridge(1.0).fit(z, y).predict(test_z)) < 0.1


def test_select_prefers_the_setting_that_rates_the_validation_rows_best():
    z, y = planted(300)
    val_z, val_y = planted(100, seed=1)
    chosen = kernel_ridge.select(z, y, val_z, val_y)
    scores = {(a, w): r2_score(val_y, kernel_ridge.fit(z, y, a, w).predict(val_z))
              for a in kernel_ridge.ALPHAS for w in kernel_ridge.WIDTHS}
    assert scores[(chosen.alpha, chosen.width)] == pytest.approx(max(scores.values()))


def test_blend_weight_follows_the_better_model():
    rng = np.random.default_rng(0)
    truth = rng.uniform(0, 1, (200, 3))
    good, bad = truth + 0.01 * rng.standard_normal(truth.shape), rng.uniform(0, 1, truth.shape)
    assert kernel_ridge.blend_weight(truth, bad, good) == max(kernel_ridge.BLEND_WEIGHTS)
    assert kernel_ridge.blend_weight(truth, good, bad) == 0.0
    noisy = [truth + 0.1 * rng.standard_normal(truth.shape) for _ in range(2)]  # independent errors: average
    assert kernel_ridge.blend_weight(truth, *noisy) == 0.5


def test_keras_member_rates_as_the_numpy_fit():
    pytest.importorskip("tensorflow")
    from pianokit.models.kernel import kernel_ridge_member, standardise
    from pianokit.models.spec import ModelSpec

    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, (250, 6)).astype("float32")
    spec = ModelSpec("multitask", feature_names=tuple(f"f{i}" for i in range(6)), targets=("a", "b"),
                     feature_mean=x.mean(0).tolist(), feature_std=x.std(0).tolist())
    y = np.stack([np.tanh(x[:, 0] - 3), np.sin(x[:, 1])], axis=1)
    fitted = kernel_ridge.fit(standardise(spec, x), y, alpha=0.3, width=1.0)
    member = kernel_ridge_member(spec, fitted)
    new = rng.normal(3.0, 2.0, (40, 6)).astype("float32")
    np.testing.assert_allclose(member.predict({"features": new}, verbose=0),
                               fitted.predict(standardise(spec, new)), atol=2e-4)
