"""ssmx.registration: the biplanar fit and its preprocessing, against truth
computed in numpy (a disc's circle, projections with the 3x4 matrix) and the
phantom's own meshes (the views are rasterised from the truth mesh)."""

import json

import numpy as np
import pytest

import ssmx
from ssmx import drr, registration, ssm


def disc_image(size=128, c=63.3, r=30.0):
    v, u = np.mgrid[0:size, 0:size].astype(np.float64)
    sub = np.zeros((size, size))
    for du in (-0.375, -0.125, 0.125, 0.375):
        for dv in (-0.375, -0.125, 0.125, 0.375):
            sub += np.hypot(u + du - c, v + dv - c) < r
    return ssmx.Image2D((sub / 16).astype(np.float32), "line_integral")


def test_edges_of_a_disc_lie_on_its_circle():
    levels = registration.extract_edges(disc_image(), levels=2)
    assert [l["level"] for l in levels] == [0, 1]
    for level in levels:
        f = level["factor"]
        v, u = np.nonzero(level["edges"])
        assert len(u) == level["num_edges"] > 20
        radius = np.hypot(f * u + (f - 1) / 2 - 63.3, f * v + (f - 1) / 2 - 63.3)
        assert np.all(np.abs(radius - 30.0) <= f)
        assert level["distance_px"].dtype == np.float32
    assert abs(levels[0]["distance_px"][63, 63] - 30.0) < 1.5


def views_about(center, size=400, pixel=2.0):
    detector = drr.CarmGeometry(rows=size, cols=size, pixel_spacing_u_mm=pixel, pixel_spacing_v_mm=pixel)
    return [drr.ProjectionGeometry.named(v, center, detector) for v in ("AP", "LAT")]


def project(geometry, x):
    h = geometry.matrix @ np.append(x, 1.0)
    return h[:2] / h[2]


def test_triangulation_matches_numpy_projection():
    geometries = views_about(np.array([5.0, -10.0, 250.0]))
    x = np.array([30.0, 12.0, 190.0])
    back = registration.triangulate_landmark(geometries, [project(g, x) for g in geometries])
    assert np.allclose(back, x, atol=1e-6)
    with pytest.raises(ssmx.InvalidInput):
        registration.triangulate_landmark(geometries, [project(geometries[0], x), None], "alone")


@pytest.fixture(scope="module")
def phantom():
    template = ssm.make_femur_template(ssm.PhantomMeshOptions(spacing_mm=2.0, target_faces=3000))
    params = ssm.sample_femur_parameters(13, seed=4)
    meshes = [ssm.corresponding_femur_mesh(template, ssm.PhantomFemur(p)) for p in params]
    model = ssm.build_shape_model(meshes[:12])
    model.set_landmarks(template.landmark_vertices)
    truth = meshes[12]
    views = []
    for g in views_about(truth.vertices.mean(axis=0)):
        image = drr.project_mesh_path_length(truth, g)
        image = ssmx.Image2D(image.pixels * np.float32(0.05), "line_integral")
        views.append(registration.FitView(image, g, "view"))
    landmarks = [{name: tuple(project(v.geometry, truth.vertices[i])) for name, i in model.landmarks.items()}
                 for v in views]
    return model, truth, views, landmarks


def test_pose_from_landmarks_is_the_umeyama_pose(phantom):
    model, truth, views, landmarks = phantom
    pose, used = registration.pose_from_landmarks(model, [v.geometry for v in views], landmarks)
    assert len(used) >= 3
    # Umeyama in numpy (rigid), from the model mean's landmark vertices to the truth's.
    mean = model.mean.reshape(-1, 3)
    idx = [model.landmarks[n] for n in used]
    a, b = mean[idx], truth.vertices[idx]
    ca, cb = a.mean(0), b.mean(0)
    u, _, vt = np.linalg.svd((b - cb).T @ (a - ca))
    d = np.diag([1, 1, np.sign(np.linalg.det(u @ vt))])
    r = u @ d @ vt
    assert np.allclose(pose.matrix[:3, :3], r, atol=1e-6)
    assert np.allclose(pose.matrix[:3, 3], cb - r @ ca, atol=1e-4)


def test_fit_reconstructs_the_held_out_femur(phantom):
    model, truth, views, landmarks = phantom
    seen = []
    fit = registration.fit_shape_model(model, views, landmarks=landmarks,
                                       progress=lambda f, s: seen.append(f) is None)
    assert fit.start == "landmarks" and seen and seen[-1] == 1.0
    distance = ssm.compute_surface_distance(fit.mesh, truth)
    start = ssm.compute_surface_distance(model.mean_mesh(), truth)  # unposed: a loose upper bound
    assert distance.mean_mm < 1.6, distance.mean_mm
    assert distance.mean_mm < start.mean_mm
    sd = fit.mesh.scalars["posterior_std_mm"]
    assert sd.shape == (model.num_vertices,) and np.all(sd > 0)
    assert fit.coefficients.shape == (min(20, model.num_modes),)
    assert abs(fit.mahalanobis - np.linalg.norm(fit.coefficients)) < 1e-9
    summary = json.loads(fit.summary_json())
    assert set(summary["quality_flags"]) == set(fit.flags)
    assert len(fit.final_contours) == 2 and fit.final_contours[0].shape[1] == 2
    png = registration.render_fit_overlay_png(views[0], fit.initial_contours[0], fit.final_contours[0])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    # A pose start converges to the same surface.
    again = registration.fit_shape_model(model, views, pose=fit.pose)
    assert again.start == "given_pose"
    assert ssm.compute_surface_distance(again.mesh, truth).mean_mm < 1.6


def test_bad_input_raises(phantom, tmp_path):
    model, truth, views, landmarks = phantom
    with pytest.raises(ssmx.InvalidInput):
        registration.fit_shape_model(model, [])
    options = registration.FitOptions()
    options.edge_noise_px = 0
    with pytest.raises(ssmx.InvalidInput):
        registration.fit_shape_model(model, views, options=options)
    with pytest.raises(ssmx.InvalidInput):
        options.polarity = "sideways"
    with pytest.raises(TypeError):
        registration.FitView(np.zeros((10, 10), np.float32), views[0].geometry)
    with pytest.raises(ssmx.IoError):
        registration.read_fit_view(str(tmp_path / "missing.png"))
    bad = tmp_path / "lm.json"
    bad.write_text('{"views": [{"points": {"x": [1]}}]}')
    with pytest.raises(ssmx.InvalidInput):
        registration.read_landmarks_2d(str(bad), 1)
    with pytest.raises(ssmx.InvalidInput):
        registration.fit_shape_model(model, views, landmarks=[{"nowhere": (1.0, 2.0)}, {}])
