"""ssmx.ssm ICP and dense correspondence against known transforms and the phantom's truth."""

import numpy as np
import pytest

import ssmx

ssm = ssmx.ssm
COARSE = ssm.PhantomMeshOptions(spacing_mm=1.5, target_faces=3000)


def _rotation(axis, angle):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def _flips(reference, mesh, rotation):
    """Faces whose normal turned by >= 90 degrees, computed with numpy."""
    def normals(v, f):
        return np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    ref = normals(reference.vertices, reference.faces) @ rotation.T
    return int(np.sum(np.einsum("ij,ij->i", normals(mesh.vertices, mesh.faces), ref) <= 0))


@pytest.fixture(scope="module")
def mean_femur():
    return ssm.PhantomFemur(ssm.mean_femur_parameters())


def test_icp_recovers_a_known_rigid_transform(mean_femur):
    source = ssm.mesh_phantom_femur(mean_femur, COARSE)
    other = ssm.mesh_phantom_femur(mean_femur, ssm.PhantomMeshOptions(spacing_mm=1.1, target_faces=5000))
    rotation = _rotation([0.2, -0.4, 1.0], 0.15)
    translation = np.array([8.0, -3.0, 15.0])
    target = ssmx.TriangleMesh(np.ascontiguousarray(other.vertices @ rotation.T + translation),
                               other.faces)
    result = ssm.icp(source, target, kind="rigid")
    assert result.converged, result
    t = result.target_from_source
    assert t.scale == 1.0
    angle = np.arccos(np.clip((np.trace(t.rotation.T @ rotation) - 1) / 2, -1, 1))
    assert angle < 3e-3, angle
    expected = source.vertices @ rotation.T + translation
    assert np.abs(t.apply(source.vertices) - expected).max() < 0.2
    with pytest.raises(ssmx.InvalidInput, match="trim_fraction"):
        ssm.icp(source, target, trim_fraction=1.5)


def test_correspond_places_the_template_on_the_target(mean_femur):
    template = ssm.make_femur_template(COARSE)
    params = ssm.sample_femur_parameters(1, 31)[0]
    femur = ssm.PhantomFemur(params)
    target = ssm.mesh_phantom_femur(femur, ssm.PhantomMeshOptions(spacing_mm=1.2, target_faces=8000))
    truth = ssm.corresponding_femur_mesh(template, femur)
    names = ["greater_trochanter_tip", "lesser_trochanter", "medial_epicondyle",
             "lateral_epicondyle", "intercondylar_notch"]
    ref_lm = {n: p for n, p in mean_femur.landmarks().items() if n in names}
    tgt_lm = {n: p for n, p in femur.landmarks().items() if n in names}
    for landmarks in (False, True):
        kw = dict(reference_landmarks=ref_lm, target_landmarks=tgt_lm) if landmarks else {}
        s = ssm.correspond(template.mesh, target, **kw)
        assert s.initial_from_landmarks == landmarks
        assert np.array_equal(s.mesh.faces, template.mesh.faces)
        assert s.mesh.vertices.shape == template.mesh.vertices.shape
        d = ssm.compute_surface_distance(s.mesh, target, compute_dice=False)
        assert d.mean_mm < 0.2, d
        assert _flips(template.mesh, s.mesh, s.initial.rotation) == 0 == s.flipped_faces
        error = np.linalg.norm(s.mesh.vertices - truth.vertices, axis=1).mean()
        assert error < 3.6, error  # see docs/correspondence.md, "Limits"
    # Amberg's point-to-point term (tangential_weight=1) leaves the vertices
    # farther from their true places than the default point-to-plane term.
    p2p = ssm.correspond(template.mesh, target, tangential_weight=1.0)
    p2p_error = np.linalg.norm(p2p.mesh.vertices - truth.vertices, axis=1).mean()
    plane_error = np.linalg.norm(ssm.correspond(template.mesh, target).mesh.vertices
                                 - truth.vertices, axis=1).mean()
    assert plane_error < p2p_error, (plane_error, p2p_error)
    with pytest.raises(ssmx.InvalidInput, match="tangential_weight"):
        ssm.correspond(template.mesh, target, tangential_weight=0.0)
    with pytest.raises(ssmx.InvalidInput, match="share no name"):
        ssm.correspond(template.mesh, target, reference_landmarks={"a": (0, 0, 0)},
                       target_landmarks={"b": (0, 0, 0)})


def test_correspond_with_model_uses_the_prior_for_the_placement():
    # A prior from 20 phantom femurs in true correspondence (seed 5), fitted to
    # an independently meshed femur from another draw (seed 31): vertices lie
    # closer to their true points than the template registration puts them.
    template = ssm.make_femur_template(COARSE)
    training = [ssm.corresponding_femur_mesh(template, ssm.PhantomFemur(p))
                for p in ssm.sample_femur_parameters(20, 5)]
    prior = ssm.build_shape_model(training)
    femur = ssm.PhantomFemur(ssm.sample_femur_parameters(1, 31)[0])
    target = ssm.mesh_phantom_femur(femur, ssm.PhantomMeshOptions(spacing_mm=1.2, target_faces=8000))
    truth = ssm.corresponding_femur_mesh(template, femur)
    s = ssm.correspond_with_model(prior, target)
    assert np.array_equal(s.mesh.faces, template.mesh.faces)
    assert s.model_coefficients.shape == (prior.num_modes,)
    assert s.model_mahalanobis == pytest.approx(np.linalg.norm(s.model_coefficients))
    assert ssm.compute_surface_distance(s.mesh, target, compute_dice=False).mean_mm < 0.2
    assert _flips(prior.mean_mesh(), s.mesh, s.initial.rotation) == 0 == s.flipped_faces
    model_error = np.linalg.norm(s.mesh.vertices - truth.vertices, axis=1).mean()
    template_error = np.linalg.norm(ssm.correspond(template.mesh, target).mesh.vertices
                                    - truth.vertices, axis=1).mean()
    assert model_error < 0.5, model_error
    assert model_error < template_error, (model_error, template_error)
    with pytest.raises(ssmx.InvalidInput, match="noise_mm"):
        ssm.correspond_with_model(prior, target, noise_mm=[1.0, -1.0])
