"""ssmx.ssm shape models against numpy PCA, closed-form posteriors and h5py."""

import gc
import json

import h5py
import numpy as np
import pytest

import ssmx

ssm = ssmx.ssm


def _rotation(axis, angle):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


@pytest.fixture(scope="module")
def cohort():
    """Shapes with two known modes: base + c1 d1 + c2 d2, coefficients centred."""
    sphere = ssm.make_icosphere(30.0, 1)
    base, faces = sphere.vertices.copy(), sphere.faces.copy()
    rng = np.random.default_rng(21)
    directions, _ = np.linalg.qr(rng.normal(size=(base.size, 2)))
    coefficients = rng.normal(size=(12, 2)) * [3.0, 1.0]
    coefficients -= coefficients.mean(axis=0)
    shapes = [base + (directions @ c).reshape(-1, 3) for c in coefficients]
    meshes = [ssmx.TriangleMesh(np.ascontiguousarray(s), faces) for s in shapes]
    model = ssm.build_shape_model(meshes, ssm.ShapeModelBuildOptions(alignment="none"))
    return dict(base=base, faces=faces, directions=directions, coefficients=coefficients,
                shapes=shapes, meshes=meshes, model=model)


def test_model_equals_numpy_pca(cohort):
    model = cohort["model"]
    data = np.stack([s.ravel() for s in cohort["shapes"]])
    centred = data - data.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    variances = singular ** 2 / (len(data) - 1)
    assert model.num_modes == 2 and model.num_vertices == len(cohort["base"])
    np.testing.assert_allclose(model.mean, cohort["base"].ravel(), atol=1e-9)
    np.testing.assert_allclose(model.variances, variances[:2], rtol=1e-9)
    for k in range(2):
        assert abs(model.basis[:, k] @ vt[k]) == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_array_equal(model.faces, cohort["faces"])
    np.testing.assert_allclose(ssm.compactness(model), np.cumsum(variances[:2]) / variances[:2].sum())
    assert model.modes_for_variance_fraction(0.5) == 1
    assert model.truncated(1).num_modes == 1
    with pytest.raises(ssmx.InvalidInput):
        model.truncated(3)


def test_coefficients_instances_and_reconstruction(cohort):
    model = cohort["model"]
    w = model.scaled_basis()
    np.testing.assert_allclose(w, model.basis * np.sqrt(model.variances), atol=1e-12)
    shape = cohort["shapes"][4]
    expected, *_ = np.linalg.lstsq(w, shape.ravel() - model.mean, rcond=None)
    a = model.coefficients(shape)
    np.testing.assert_allclose(a, expected, atol=1e-9)
    np.testing.assert_allclose(model.instance(a), shape, atol=1e-9)
    np.testing.assert_allclose(model.reconstruct(shape), shape, atol=1e-9)
    assert model.mahalanobis_distance(shape) == pytest.approx(np.linalg.norm(expected))
    np.testing.assert_allclose(model.instance([1.0]), (model.mean + w[:, 0]).reshape(-1, 3))
    mesh = model.instance_mesh(a)
    np.testing.assert_array_equal(mesh.faces, cohort["faces"])
    np.testing.assert_allclose(model.mean_mesh().vertices, cohort["base"], atol=1e-9)
    with pytest.raises(TypeError, match="float64"):
        model.coefficients(shape.astype(np.float32))
    with pytest.raises(TypeError, match="C-contiguous"):
        model.coefficients(np.asfortranarray(shape))
    with pytest.raises(ssmx.InvalidInput):
        model.coefficients(shape[:10].copy())
    with pytest.raises(ssmx.InvalidInput):
        model.instance([1.0, 2.0, 3.0])


def test_variances_per_vertex_and_sampling(cohort):
    model = cohort["model"]
    w = model.scaled_basis().reshape(-1, 3, 2)  # (V, 3, K)
    covariance = np.einsum("vik,vjk->vij", w, w)
    np.testing.assert_allclose(model.vertex_covariance(5), covariance[5], atol=1e-12)
    np.testing.assert_allclose(model.per_vertex_variance(), np.trace(covariance, axis1=1, axis2=2))
    with pytest.raises(ssmx.InvalidInput):
        model.vertex_covariance(10 ** 6)
    samples = model.sample(50, 3)
    again, coefficients = model.sample_with_coefficients(50, 3)
    for s, t in zip(samples, again):
        np.testing.assert_array_equal(s, t)
    assert coefficients.shape == (50, 2)
    np.testing.assert_allclose(samples[7], model.instance(coefficients[7]), atol=1e-9)
    assert not np.array_equal(model.sample(1, 4)[0], samples[0])
    assert type(samples[0].base).__name__ == "PyCapsule"


def test_model_arrays_are_views_that_outlive_the_model(cohort):
    model = ssm.build_shape_model(cohort["meshes"], ssm.ShapeModelBuildOptions(alignment="none"))
    mean, basis, variances = model.mean, model.basis, model.variances
    for array in (mean, basis, variances):
        assert array.base is model and not array.flags.writeable and not array.flags.owndata
    expected = mean.copy()
    del model
    gc.collect()
    np.testing.assert_array_equal(mean, expected)
    assert basis.shape == (expected.size, 2)


def test_constructor_checks_and_copies(cohort):
    model = cohort["model"]
    rebuilt = ssm.ShapeModel(model.mean.copy(), model.basis, model.variances.copy(), 0.5,
                             cohort["faces"])  # a Fortran-order basis is accepted
    np.testing.assert_array_equal(rebuilt.basis, model.basis)
    assert rebuilt.noise_variance == 0.5
    c_order = ssm.ShapeModel(model.mean.copy(), np.ascontiguousarray(model.basis),
                             model.variances.copy())
    np.testing.assert_array_equal(c_order.basis, model.basis)
    assert c_order.faces.shape == (0, 3)
    with pytest.raises(TypeError, match="float64"):
        ssm.ShapeModel(model.mean.astype(np.float32), model.basis, model.variances.copy())
    with pytest.raises(ValueError):
        ssm.ShapeModel(model.mean.copy(), model.basis[:-3], model.variances.copy())
    bad_faces = cohort["faces"].copy()
    bad_faces[0, 0] = 10 ** 6
    with pytest.raises(ssmx.InvalidInput):
        ssm.ShapeModel(model.mean.copy(), model.basis, model.variances.copy(), 0.0, bad_faces)
    with pytest.raises(ssmx.InvalidInput):
        rebuilt.set_landmarks({"tip": 10 ** 6})
    rebuilt.set_landmarks({"tip": 3})
    assert rebuilt.landmarks == {"tip": 3}


def test_posterior_matches_the_closed_form(cohort):
    prior = cohort["model"]
    w = prior.scaled_basis()
    truth = prior.instance([2.0, -1.0])
    observed = [0, 7, 19, 30, 41]
    noise = 0.5
    observations = [ssm.PointObservation(v, truth[v], noise) for v in observed]
    posterior = ssm.posterior_model(prior, observations)
    rows = np.concatenate([[3 * v, 3 * v + 1, 3 * v + 2] for v in observed])
    w_o = w[rows]
    m = np.eye(2) + w_o.T @ w_o / noise
    a_hat = np.linalg.solve(m, w_o.T @ (truth.ravel()[rows] - prior.mean[rows]) / noise)
    np.testing.assert_allclose(posterior.mean, prior.mean + w @ a_hat, atol=1e-9)
    covariance = w @ np.linalg.solve(m, w.T)
    w_post = posterior.scaled_basis()
    np.testing.assert_allclose(w_post @ w_post.T, covariance, atol=1e-9)
    with pytest.raises(ssmx.InvalidInput):
        ssm.posterior_model(prior, [ssm.PointObservation(10 ** 6, (0, 0, 0), 1.0)])


def test_metrics_against_numpy(cohort):
    model = cohort["model"]
    options = ssm.MetricOptions(alignment="none")
    curve = ssm.generalization(model, cohort["meshes"], options)
    assert curve.modes == [1, 2]
    # One mode leaves what the first principal direction (numpy's SVD) does not explain.
    data = np.stack([m.vertices.ravel() for m in cohort["meshes"]])
    centred = data - data.mean(axis=0)
    first = np.linalg.svd(centred, full_matrices=False)[2][0]
    left = centred - np.outer(centred @ first, first)
    residual = [np.linalg.norm(r.reshape(-1, 3), axis=1).mean() for r in left]
    assert curve.mean_mm[0] == pytest.approx(np.mean(residual), rel=1e-6)
    assert curve.sd_mm[0] == pytest.approx(np.std(residual, ddof=1), rel=1e-6)
    assert curve.mean_mm[1] == pytest.approx(0, abs=1e-9)
    specific = ssm.specificity(model, cohort["meshes"], ssm.MetricOptions(samples=20, seed=2,
                                                                         alignment="none"))
    assert specific.modes == [1, 2] and all(v > 0 for v in specific.mean_mm)
    loo = ssm.leave_one_out_generalization(cohort["meshes"],
                                           ssm.ShapeModelBuildOptions(alignment="none"), options)
    assert loo.modes[-1] <= len(cohort["meshes"]) - 2 and loo.mean_mm[-1] < 1e-6
    with pytest.raises(ssmx.InvalidInput):
        ssm.specificity(model, cohort["meshes"], ssm.MetricOptions(samples=0))


def test_umeyama_and_procrustes_recover_known_transforms(cohort):
    source = cohort["base"]
    rotation = _rotation((1, 2, 3), 0.7)
    target = np.ascontiguousarray(1.3 * source @ rotation.T + [5.0, -2.0, 7.0])
    t = ssm.umeyama(source, target, True)
    assert t.scale == pytest.approx(1.3)
    np.testing.assert_allclose(t.rotation, rotation, atol=1e-12)
    np.testing.assert_allclose(t.translation, [5, -2, 7], atol=1e-9)
    np.testing.assert_allclose(t.apply(source), target, atol=1e-9)
    np.testing.assert_allclose(t.matrix()[:3, :3], 1.3 * rotation, atol=1e-12)
    rigid = ssm.umeyama(source, target, False)
    assert rigid.scale == 1.0
    with pytest.raises(ssmx.InvalidInput):
        ssm.umeyama(source[:2].copy(), target[:2].copy(), False)
    copies = [source] + [np.ascontiguousarray(source @ _rotation(axis, 0.4).T + shift)
                         for axis, shift in (((0, 0, 1), (1, 2, 3)), ((1, 0, 0), (-4, 0, 2)))]
    result = ssm.generalized_procrustes(copies, "rigid")
    for aligned in result.aligned:
        np.testing.assert_allclose(aligned, source, atol=1e-6)
    np.testing.assert_allclose(result.mean, source, atol=1e-6)
    np.testing.assert_allclose(result.transforms[1].apply(copies[1]), source, atol=1e-6)
    with pytest.raises(ssmx.InvalidInput):
        ssm.generalized_procrustes(copies, "affine")


def test_build_with_alignment_and_report(cohort):
    moved = []
    for i, mesh in enumerate(cohort["meshes"]):
        r = _rotation((1, 1, 0), 0.1 * i)
        moved.append(ssmx.TriangleMesh(np.ascontiguousarray(mesh.vertices @ r.T + i), mesh.faces))
    model, report = ssm.build_shape_model_with_report(
        moved, ssm.ShapeModelBuildOptions(alignment="rigid", names=[f"s{i}" for i in range(12)]))
    assert report.shapes == 12 and report.modes_kept == model.num_modes
    assert len(report.alignment) == 12 and "12" in report.brief_report()
    assert model.info.builders and model.info.builders[0].data_info.get("URI_0") == "s0"
    # Rigid motions removed: the variance is about that of the two known modes.
    assert model.variances[:2].sum() == pytest.approx(cohort["model"].variances.sum(), rel=0.05)
    bad = [cohort["meshes"][0], ssmx.TriangleMesh(cohort["base"][:-1].copy(), cohort["faces"][:5])]
    with pytest.raises(ssmx.InvalidInput, match="shape 1"):
        ssm.build_shape_model(bad)
    with pytest.raises(ssmx.InvalidInput):
        ssm.build_shape_model(cohort["meshes"], ssm.ShapeModelBuildOptions(variance_fraction=2))


def test_statismo_file_written_by_ssmx_read_by_h5py(cohort, tmp_path):
    model = cohort["model"]
    model.set_landmarks({"north": 0})
    path = str(tmp_path / "model.h5")
    ssm.write_statismo_model(model, path)
    with h5py.File(path, "r") as f:
        assert f["model/mean"].dtype == np.float32
        np.testing.assert_allclose(f["model/mean"][:], model.mean, rtol=1e-6, atol=1e-5)
        np.testing.assert_allclose(f["model/pcaBasis"][:], model.basis, atol=1e-6)
        np.testing.assert_allclose(f["model/pcaVariance"][:], model.variances, rtol=1e-6)
        np.testing.assert_array_equal(f["representer/cells"][:], model.faces.T)
        np.testing.assert_allclose(f["representer/points"][:], model.mean.reshape(-1, 3).T,
                                   atol=1e-5)
        assert json.loads(f["ssmx/landmarks"][0]) == {"north": 0}
    back = ssm.read_statismo_model(path)
    np.testing.assert_allclose(back.mean, model.mean, atol=1e-5)
    assert back.landmarks == {"north": 0} and back.num_modes == model.num_modes


def test_real_scalismo_model_equals_h5py(data):
    path = data / "models" / "femur_gp_statismo" / "femur_gp_model_50-components.h5"
    model = ssm.read_statismo_model(str(path))
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(model.mean, f["model/mean"][:])
        np.testing.assert_array_equal(model.basis, f["model/pcaBasis"][:])
        np.testing.assert_array_equal(model.variances, f["model/pcaVariance"][:])
        np.testing.assert_array_equal(model.faces, f["representer/cells"][:].T)
        assert model.noise_variance == f["model/noiseVariance"][0]
    assert model.num_vertices == 1622 and model.faces.shape == (3240, 3)
    mesh = model.mean_mesh()
    assert ssmx.check_mesh(mesh).surface_area_mm2 > 0


def test_model_file_errors(tmp_path):
    with pytest.raises(ssmx.IoError):
        ssm.read_statismo_model(str(tmp_path / "missing.h5"))
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(ssmx.Error, match="text.h5"):
        ssm.read_statismo_model(str(tmp_path / "text.h5"))
    with h5py.File(tmp_path / "partial.h5", "w") as f:
        f["model/mean"] = np.zeros(9, np.float32)
    with pytest.raises(ssmx.InvalidInput, match="partial.h5"):
        ssm.read_statismo_model(str(tmp_path / "partial.h5"))
