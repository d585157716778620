"""ssmx.ssm phantom femurs: parameters, the implicit bone, meshes, CT and cohorts."""

import json
import math

import numpy as np
import pytest

import ssmx
from conftest import read_nifti

COARSE = ssmx.ssm.PhantomMeshOptions(spacing_mm=2.0, target_faces=3000)


@pytest.fixture(scope="module")
def template():
    return ssmx.ssm.make_femur_template(COARSE)


def test_mean_parameters_are_the_modes_means():
    modes = ssmx.ssm.femur_parameter_modes()
    named = ssmx.ssm.femur_parameters_to_named_values(ssmx.ssm.mean_femur_parameters())
    for mode in modes:
        assert named[mode.name] == pytest.approx(mode.mean) and mode.sd > 0 and mode.source
    p = ssmx.ssm.mean_femur_parameters("left")
    assert p.side == "left" and p.validate() == ""
    assert math.degrees(p.neck_shaft_angle) == pytest.approx(named["neck_shaft_angle_deg"])
    back = ssmx.ssm.femur_parameters_from_named_values(named, "left")
    assert ssmx.ssm.femur_parameters_to_named_values(back) == pytest.approx(named)
    with pytest.raises(ssmx.InvalidInput, match="anteversion_deg.* missing"):
        ssmx.ssm.femur_parameters_from_named_values({"length_mm": 400.0})
    with pytest.raises(ssmx.InvalidInput):
        ssmx.ssm.mean_femur_parameters("middle")


def test_sampling_is_seeded_and_truncated():
    a = ssmx.ssm.sample_femur_parameters(20, 11, "alternate")
    b = ssmx.ssm.sample_femur_parameters(20, 11, "alternate")
    c = ssmx.ssm.sample_femur_parameters(20, 12)
    named = [ssmx.ssm.femur_parameters_to_named_values(p) for p in a]
    assert named == [ssmx.ssm.femur_parameters_to_named_values(p) for p in b]
    assert named != [ssmx.ssm.femur_parameters_to_named_values(p) for p in c]
    assert [p.side for p in a[:4]] == ["right", "left", "right", "left"]
    for mode in ssmx.ssm.femur_parameter_modes():
        values = [n[mode.name] for n in named]
        assert min(values) >= mode.min and max(values) <= mode.max


def test_implicit_femur_head_is_a_sphere_of_the_head_radius():
    params = ssmx.ssm.FemurParameters()
    params.head_radius_mm = 25.0
    femur = ssmx.ssm.PhantomFemur(params)
    assert femur.parameters.head_radius_mm == 25.0
    landmarks = femur.landmarks()
    centre = landmarks["femoral_head_center"]
    assert femur.signed_distance(centre) == pytest.approx(-25.0, abs=1e-6)
    assert np.linalg.norm(landmarks["femoral_head_top"] - centre) == pytest.approx(25.0)
    # Points on a small sphere around the head centre: distance = r - 25.
    directions = np.random.default_rng(2).normal(size=(50, 3))
    directions[:, 2] = np.abs(directions[:, 2])  # the upper half, away from the neck
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    points = np.ascontiguousarray(centre + 20.0 * directions)
    np.testing.assert_allclose(femur.signed_distance(points), -5.0, atol=1e-6)
    gradients = femur.gradient(points)
    np.testing.assert_allclose(gradients, directions, atol=1e-3)
    projected, moved = femur.project_to_surface(points)
    np.testing.assert_allclose(np.linalg.norm(projected - centre, axis=1), 25.0, atol=1e-6)
    np.testing.assert_allclose(moved, 5.0, atol=1e-6)
    one, distance = femur.project_to_surface(points[0])
    assert one.shape == (3,) and distance == pytest.approx(5.0, abs=1e-6)
    bounds = femur.bounds()
    assert np.all(bounds.min < centre) and np.all(centre < bounds.max)
    interior = femur.interior_at(landmarks["knee_center"])
    assert interior.cortical_thickness_mm > 0 and 0 <= interior.trabecular_fraction <= 1
    assert set(femur.derived_measures()) >= {"femoral_offset_mm", "bow_sagitta_mm"}
    with pytest.raises(ssmx.InvalidInput):
        bad = ssmx.ssm.FemurParameters()
        bad.head_radius_mm = -1
        ssmx.ssm.PhantomFemur(bad)


def test_left_femur_mirrors_the_right_one():
    right = ssmx.ssm.PhantomFemur(ssmx.ssm.mean_femur_parameters("right"))
    left = ssmx.ssm.PhantomFemur(ssmx.ssm.mean_femur_parameters("left"))
    assert np.linalg.det(right.world_from_femur()[:3, :3]) == pytest.approx(1.0)
    assert np.linalg.det(left.world_from_femur()[:3, :3]) == pytest.approx(-1.0)
    p = right.landmarks()["greater_trochanter_tip"]
    assert left.signed_distance(p * [-1, 1, 1]) == pytest.approx(right.signed_distance(p))


def test_template_and_corresponding_meshes(template):
    mesh = template.mesh
    assert mesh.num_vertices == len(template.part) and not mesh.vertices.flags.writeable
    assert set(np.unique(template.part)) == {0, 1, 2, 3, 4}
    assert np.all(template.part[template.head_vertices] == 0)
    mean = ssmx.ssm.PhantomFemur(ssmx.ssm.mean_femur_parameters())
    np.testing.assert_allclose(mean.map_from_mean(mesh.vertices), mesh.vertices, atol=1e-9)
    # The template's head vertices lie on the head sphere.
    centre = mean.landmarks()["femoral_head_center"]
    radius = mean.parameters.head_radius_mm
    head = mesh.vertices[template.head_vertices]
    np.testing.assert_allclose(np.linalg.norm(head - centre, axis=1), radius, atol=0.05)
    subject = ssmx.ssm.PhantomFemur(ssmx.ssm.sample_femur_parameters(1, 3)[0])
    corresponding, report = ssmx.ssm.corresponding_femur_mesh_with_report(template, subject)
    np.testing.assert_array_equal(corresponding.faces, mesh.faces)
    assert report.max_residual_mm < 1e-3 and report.flipped_faces == 0
    np.testing.assert_allclose(subject.signed_distance(corresponding.vertices), 0, atol=1e-3)
    again = ssmx.ssm.corresponding_femur_mesh(template, subject)
    np.testing.assert_array_equal(again.vertices, corresponding.vertices)
    remeshed = ssmx.ssm.mesh_phantom_femur(subject, COARSE)
    assert ssmx.check_mesh(remeshed).watertight()
    np.testing.assert_allclose(subject.signed_distance(remeshed.vertices), 0, atol=1e-3)


def test_phantom_ct_tissues():
    femur = ssmx.ssm.PhantomFemur(ssmx.ssm.mean_femur_parameters())
    ct = ssmx.ssm.synthesize_phantom_ct(femur, ssmx.ssm.PhantomCtOptions(spacing_mm=3.0))
    assert ct.voxel_type == "int16"
    np.testing.assert_allclose(ct.geometry.direction, np.eye(3))
    assert ct.array[0, 0, 0] == -1000  # air in the corner

    def hu_at(point):
        i, j, k = np.round(ct.geometry.world_to_index(point)).astype(int)
        return int(ct.array[k, j, i])

    # Trabecular bone in the middle of the head, HU from the parameters.
    assert hu_at(femur.landmarks()["femoral_head_center"]) == pytest.approx(220, abs=5)
    with pytest.raises(ssmx.InvalidInput):
        ssmx.ssm.synthesize_phantom_ct(femur, ssmx.ssm.PhantomCtOptions(spacing_mm=-1))
    # The scan range grows by the extension at both ends (whole voxels of 3 mm).
    longer = ssmx.ssm.synthesize_phantom_ct(
        femur, ssmx.ssm.PhantomCtOptions(spacing_mm=3.0, scan_extension_mm=42.0)
    )
    extra = (longer.geometry.size[2] - ct.geometry.size[2]) * 3.0
    assert extra == pytest.approx(2 * (42.0 - 12.0), abs=2 * 3.0)
    assert longer.geometry.size[0] == ct.geometry.size[0]
    with pytest.raises(ssmx.InvalidInput, match="scan extension"):
        ssmx.ssm.synthesize_phantom_ct(femur, ssmx.ssm.PhantomCtOptions(scan_extension_mm=-5))


def test_cohort_on_disk_matches_the_sampler(tmp_path):
    out = tmp_path / "cohort"
    out.mkdir()
    progress = []
    summary = ssmx.ssm.write_phantom_cohort(
        str(out), 2, 5, ct=True, mesh_options=COARSE,
        ct_options=ssmx.ssm.PhantomCtOptions(spacing_mm=4.0),
        progress=lambda f, s: progress.append(f))
    assert len(summary.subjects) == 2 and progress[-1] == 1.0
    assert "2 femurs" in summary.brief_report()
    document = json.loads((out / "cohort.json").read_text())
    assert document["seed"] == 5 and document["n"] == 2
    expected = ssmx.ssm.sample_femur_parameters(2, 5)
    for subject, params, entry in zip(summary.subjects, expected, document["subjects"]):
        named = ssmx.ssm.femur_parameters_to_named_values(params)
        assert entry["parameters"] == pytest.approx(named)
        assert ssmx.ssm.femur_parameters_to_named_values(subject.parameters) == pytest.approx(named)
        mesh = ssmx.ssm.read_mesh(subject.mesh_path)
        assert mesh.num_vertices == summary.template_vertices
        array, sform, _ = read_nifti(subject.ct_path)
        assert array.min() == -1000 and array.max() > 1000
    read = ssmx.ssm.read_phantom_cohort_parameters(summary.json_path)
    assert [ssmx.ssm.femur_parameters_to_named_values(p) for p in read] == pytest.approx(
        [ssmx.ssm.femur_parameters_to_named_values(p) for p in expected])
    with pytest.raises(ssmx.IoError):
        ssmx.ssm.read_phantom_cohort_parameters(str(tmp_path / "none.json"))
    (tmp_path / "broken.json").write_text('{"subjects": 3}')
    with pytest.raises(ssmx.InvalidInput, match="broken.json"):
        ssmx.ssm.read_phantom_cohort_parameters(str(tmp_path / "broken.json"))
