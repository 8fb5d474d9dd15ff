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


def embeddings(n: int, seed: int = 0):
    """Embeddings of 40 units with very different scales, one rarely active unit, and a rating that
    is a nonlinear function of two directions of the embedding (none of the features)."""
    rng = np.random.default_rng(seed)
    basis = np.random.default_rng(99).standard_normal((4, 40))
    latent = rng.standard_normal((n, 4))
    e = latent @ basis * np.geomspace(0.1, 30, 40) + 0.05 * rng.standard_normal((n, 40))
    e[:, 0] = (rng.uniform(size=n) < 0.02) * 50.0
    y = np.stack([np.tanh(latent[:, 0]), latent[:, 1] * latent[:, 2]], axis=1)
    return e, y


def test_embedding_projection_gives_standardised_uncorrelated_components():
    e, _ = embeddings(500)
    projection = kernel_ridge.EmbeddingProjection.fit(e, 6)
    comps = projection(e)
    np.testing.assert_allclose(comps.mean(0), 0, atol=1e-9)
    np.testing.assert_allclose(comps.std(0), 1, atol=1e-9)
    np.testing.assert_allclose(np.corrcoef(comps.T), np.eye(6), atol=1e-9)
    assert projection.sd.min() >= np.median(e.std(0)) - 1e-12  # the floor
    wild = e[:1].copy()
    wild[0, 0] = 1e6  # a rarely active unit far outside training: clipped at CLIP_SD, not a million SDs
    assert np.abs(projection(wild) - projection(np.where(np.arange(40) == 0, e[:1] + 1e3, e[:1]))).max() < 1e-9


def test_embedding_projection_ignores_the_float_noise_of_dead_units():
    e, _ = embeddings(400)
    rng = np.random.default_rng(3)
    fits = []
    for _ in range(2):  # mostly dead units, as musicnn's: two draws of their float noise
        with_dead = np.hstack([e, 0.7 + 1e-13 * rng.standard_normal((400, 120))])
        fits.append(kernel_ridge.EmbeddingProjection.fit(with_dead, 5)(with_dead))
    np.testing.assert_allclose(np.abs(fits[0]), np.abs(fits[1]), atol=1e-6)


def test_embedding_projection_refuses_more_components_than_recordings():
    e, _ = embeddings(5)
    with pytest.raises(ValueError, match="6 components from 5 recordings"):
        kernel_ridge.EmbeddingProjection.fit(e, 6)


def test_kernel_ridge_learns_a_rating_planted_in_the_embedding_through_its_components():
    e, y = embeddings(600)
    test_e, test_y = embeddings(300, seed=1)
    noise = np.random.default_rng(5).standard_normal((900, 6))  # features that carry nothing
    projection = kernel_ridge.EmbeddingProjection.fit(e, 8)
    with_emb = kernel_ridge.fit(np.hstack([noise[:600], projection(e)]), y, alpha=1.0, width=0.5)
    features_only = kernel_ridge.fit(noise[:600], y, alpha=1.0, width=0.5)
    assert r2_score(test_y, with_emb.predict(np.hstack([noise[600:], projection(test_e)]))) > 0.7
    assert r2_score(test_y, features_only.predict(noise[600:])) < 0.05


def test_select_rates_windows_as_the_mean_of_each_recordings_windows():
    z, y = planted(300)
    val_z, val_y = planted(60, seed=1)
    owner = np.repeat(np.arange(60), 3)
    windows = val_z[owner] + np.random.default_rng(2).normal(0, 0.3, (180, 6))
    chosen = kernel_ridge.select(z, y, windows, val_y, val_owner=owner)
    rated = {(f.alpha, f.width): r2_score(val_y, f.predict(windows).reshape(60, 3, 2).mean(1))
             for w in kernel_ridge.WIDTHS for f in kernel_ridge._fits(z, y, kernel_ridge.ALPHAS, w, 0)}
    assert rated[(chosen.alpha, chosen.width)] == pytest.approx(max(rated.values()))


def test_keras_member_reads_the_embeddings_components_as_the_numpy_fit():
    pytest.importorskip("tensorflow")
    from pianokit.models.kernel import kernel_ridge_member, standardise
    from pianokit.models.spec import ModelSpec

    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, (300, 6)).astype("float32")
    e, y = embeddings(300)
    spec = ModelSpec("hybrid", feature_names=tuple(f"f{i}" for i in range(6)), targets=("a", "b"),
                     feature_mean=x.mean(0).tolist(), feature_std=x.std(0).tolist())
    projection = kernel_ridge.EmbeddingProjection.fit(e, 5)
    fitted = kernel_ridge.fit(np.hstack([standardise(spec, x), projection(e)]), y, alpha=0.3, width=1.0)
    member = kernel_ridge_member(spec, fitted, projection)
    assert {t.name for t in member.inputs} == {"features", "embedding"}
    new_x = rng.normal(3.0, 2.0, (40, 6)).astype("float32")
    new_e, _ = embeddings(40, seed=3)
    new_e[0, 0] = 1e4  # clipped in the graph as in numpy
    got = member.predict({"features": new_x, "embedding": new_e.astype("float32")}, verbose=0)
    want = fitted.predict(np.hstack([standardise(spec, new_x), projection(new_e)]))
    np.testing.assert_allclose(got, want, atol=5e-4)
    assert np.abs(want - want.mean(0)).mean() > 0.05
