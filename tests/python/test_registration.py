"""ssmx.registration: Pose and rigid CT-to-X-ray registration.

Truth comes from hand-computed rotations, pose.json parsed with the json
module, a volume moved by editing its header in numpy (not ssmx.move_volume),
and mTRE recomputed here in numpy.
"""

import json

import numpy as np
import pytest

import ssmx

reg = ssmx.registration
drr = ssmx.drr


def _phantom():
    """An asymmetric attenuation volume (1/mm): 40 x 36 x 32 voxels of 3 mm."""
    geometry = ssmx.VolumeGeometry(size=(40, 36, 32), spacing_mm=(3, 3, 3), origin_mm=(-60, -50, 0))
    k, j, i = np.mgrid[0:32, 0:36, 0:40].astype(float)
    x, y, z = 3 * i - 60 + 0.0, 3 * j - 50, 3 * k
    cx, cy, cz = -1.5, 2.5, 46.5
    mu = np.zeros((32, 36, 40), np.float32)
    mu[((x - cx) / 55) ** 2 + ((y - cy) / 48) ** 2 + ((z - cz) / 44) ** 2 < 1] = 0.02
    mu[((x - cx - 15 - 0.3 * (z - cz)) / 10) ** 2 + ((y - cy + 5) / 12) ** 2 + ((z - cz) / 35) ** 2 < 1] = 0.05
    mu[(x - cx + 25) ** 2 + (y - cy - 10) ** 2 + (z - cz - 15) ** 2 < 64] = 0.08
    return ssmx.Volume(mu, geometry)


def _rotation(vector):
    angle = np.linalg.norm(vector)
    if angle == 0:
        return np.eye(3)
    k = np.asarray(vector) / angle
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * kx @ kx


def _moved(volume, rotation, translation, center):
    """The volume moved through its header, computed here."""
    g = volume.geometry
    r = _rotation(rotation)
    origin = r @ (np.asarray(g.origin_mm) - center) + center + translation
    moved = ssmx.VolumeGeometry(size=g.size, spacing_mm=g.spacing_mm, origin_mm=origin,
                                direction=r @ np.asarray(g.direction))
    return ssmx.Volume(volume.array.copy(), moved)


def _detector(size=64, pitch=4.0):
    return drr.CarmGeometry(rows=size, cols=size, pixel_spacing_u_mm=pitch, pixel_spacing_v_mm=pitch)


def test_pose_quarter_turn_matrix_and_json_round_trip(tmp_path):
    pose = reg.Pose(rotation=[0, 0, np.pi / 2], translation=[0, 0, 5], center=[10, 0, 0])
    np.testing.assert_allclose(pose.apply(np.array([[11.0, 0, 0]])), [[10, 1, 5]], atol=1e-12)
    np.testing.assert_allclose(pose.matrix[:3, :3], [[0, -1, 0], [1, 0, 0], [0, 0, 1]], atol=1e-12)
    again = reg.Pose.from_matrix(pose.matrix, center=[0, 0, 0])
    np.testing.assert_allclose(again.matrix, pose.matrix, atol=1e-12)
    np.testing.assert_allclose(pose.recentered([1, 2, 3]).matrix, pose.matrix, atol=1e-12)
    path = tmp_path / "pose.json"
    reg.write_pose(pose, str(path), '{"note": 1}')
    data = json.loads(path.read_text())
    assert data["format"] == "ssmx-pose" and data["note"] == 1
    assert abs(data["rotation_angle_deg"] - 90) < 1e-9
    np.testing.assert_allclose(reg.read_pose(str(path)).matrix, pose.matrix, atol=1e-12)
    targets = np.array([[11.0, 0, 0], [10, 2, 0]])
    shifted = reg.Pose(rotation=pose.rotation, translation=[0, 0, 8], center=[10, 0, 0])
    assert abs(reg.mean_target_registration_error(shifted, pose, targets) - 3.0) < 1e-12
    with pytest.raises(ssmx.IoError):
        reg.read_pose(str(tmp_path / "missing.json"))


def test_project_posed_equals_the_volume_moved_by_its_header():
    volume = _phantom()
    rotation, translation = np.array([0.1, -0.2, 0.3]), np.array([6.0, -4.0, 9.0])
    prepared = drr.PreparedVolume.from_attenuation(volume)
    center = reg.volume_center(prepared)
    pose = reg.Pose(rotation=rotation, translation=translation, center=center)
    moved = drr.PreparedVolume.from_attenuation(_moved(volume, rotation, translation, center))
    view = drr.ProjectionGeometry.named("LAT", center, _detector())
    truth = drr.project(moved, view).pixels
    posed = reg.project_posed(prepared, pose, view).pixels
    assert truth.max() > 1
    assert np.abs(truth - posed).max() < 1e-4 * truth.max()
    assert np.abs(truth - drr.project(prepared, view).pixels).max() > 0.1 * truth.max()


def test_binning_and_shrinking_follow_the_documented_grids():
    volume = drr.PreparedVolume.from_attenuation(_phantom())
    shrunk = reg.shrink_volume(volume, 2)
    assert shrunk.geometry.size == (20, 18, 16)
    np.testing.assert_allclose(shrunk.geometry.spacing_mm, [6, 6, 6])
    # The new voxel (0, 0, 0) sits at the centre of the old 2x2x2 block.
    np.testing.assert_allclose(shrunk.geometry.origin_mm, [-58.5, -48.5, 1.5])
    view = drr.ProjectionGeometry.named("AP", [0, 0, 40], _detector(64, 1.0))
    binned = reg.binned_geometry(view, 4)
    point = np.array([12.0, -3.0, 50.0])
    np.testing.assert_allclose(binned.project(point)[0], (view.project(point)[0] - 1.5) / 4, atol=1e-9)
    image = ssmx.Image2D(np.arange(30, dtype=np.float32).reshape(5, 6), quantity="line_integral")
    np.testing.assert_allclose(reg.bin_image(image, 2).pixels,
                               np.arange(30).reshape(5, 6)[:4].reshape(2, 2, 3, 2).mean(axis=(1, 3)))


def test_register_rigid_recovers_a_known_pose_from_a_perturbed_start():
    volume = _phantom()
    prepared = drr.PreparedVolume.from_attenuation(volume)
    center = reg.volume_center(prepared)
    rotation, translation = np.array([0.04, -0.05, 0.06]), np.array([3.0, -5.0, 2.0])
    truth = reg.Pose(rotation=rotation, translation=translation, center=center)
    moved = drr.PreparedVolume.from_attenuation(_moved(volume, rotation, translation, center))
    views = []
    for name in ("AP", "LAT"):
        geometry = drr.ProjectionGeometry.named(name, center, _detector())
        image = drr.intensity_from_line_integral(drr.project(moved, geometry), 1e4, noise_seed=5)
        views.append(reg.prepare_view(image, geometry, 1e4, name))
    start = reg.perturb_pose(truth, 10.0, np.radians(5.0), 3)
    targets = reg.target_points(prepared, 0.04)
    fractions = []
    result = reg.register_rigid(prepared, views, start, levels=[(2, 1), (1, 1)], true_pose=truth,
                                targets=targets, progress=lambda f, s: fractions.append(f))
    # mTRE recomputed in numpy from the two matrices.
    h = np.c_[targets, np.ones(len(targets))]
    error = np.linalg.norm((h @ result.pose.matrix.T - h @ truth.matrix.T)[:, :3], axis=1).mean()
    assert abs(error - result.final_mtre_mm) < 1e-9
    assert result.initial_mtre_mm > 8 and error < 0.5, result.brief_report()
    assert result.final_score > result.initial_score and result.similarity == "ncc"
    assert len(result.levels) == 2 and len(result.view_scores) == 2 and result.iterations > 0
    assert fractions and fractions == sorted(fractions)


def test_registration_refuses_bad_input():
    volume = _phantom()
    prepared = drr.PreparedVolume.from_attenuation(volume)
    geometry = drr.ProjectionGeometry.named("AP", reg.volume_center(prepared), _detector(32, 8))
    view = reg.prepare_view(drr.project(prepared, geometry), geometry)
    assert view.name == "view"
    with pytest.raises(ssmx.InvalidInput, match="no X-ray view"):
        reg.register_rigid(prepared, [])
    with pytest.raises(ssmx.InvalidInput, match="scale"):
        reg.register_rigid(prepared, [view], reg.Pose(scale=1.2))
    with pytest.raises(ssmx.InvalidInput, match="similarity 'mi'"):
        reg.register_rigid(prepared, [view], similarity="mi")
    with pytest.raises(ssmx.InvalidInput, match="true_pose needs targets"):
        reg.register_rigid(prepared, [view], true_pose=reg.Pose())
    mask = ssmx.Image2D(np.eye(32, dtype=np.float32), quantity="mask")
    with pytest.raises(ssmx.InvalidInput, match="mask.png: a 0/1 mask"):
        reg.prepare_view(mask, geometry, what="mask.png")
    small = ssmx.Image2D(np.ones((30, 32), np.float32), quantity="line_integral")
    with pytest.raises(ssmx.InvalidInput, match="32x30"):
        reg.prepare_view(small, geometry)
    empty = drr.PreparedVolume.from_attenuation(ssmx.Volume(np.zeros((4, 4, 4), np.float32)))
    with pytest.raises(ssmx.InvalidInput, match="empty label"):
        reg.register_rigid(empty, [view])


def test_register_rigid_moves_one_part_in_front_of_a_fixed_background():
    volume = _phantom()
    bone_array = np.where(volume.array >= 0.05, volume.array, 0).astype(np.float32)
    rest_array = np.where(volume.array >= 0.05, 0, volume.array).astype(np.float32)
    bone = ssmx.Volume(bone_array, volume.geometry)
    bone_prepared = drr.PreparedVolume.from_attenuation(bone)
    rest = drr.PreparedVolume.from_attenuation(ssmx.Volume(rest_array, volume.geometry))
    center = reg.volume_center(bone_prepared)
    rotation, translation = np.array([0.03, 0.05, -0.04]), np.array([3.0, -2.0, 4.0])
    truth = reg.Pose(rotation=rotation, translation=translation, center=center)
    moved = drr.PreparedVolume.from_attenuation(_moved(bone, rotation, translation, center))
    views = []
    for name in ("AP", "LAT"):
        geometry = drr.ProjectionGeometry.named(name, center, _detector())
        line = drr.project(rest, geometry).pixels + drr.project(moved, geometry).pixels
        views.append(reg.prepare_view(ssmx.Image2D(line, quantity="line_integral"), geometry))
    start = reg.perturb_pose(truth, 6.0, np.radians(3.0), 5)
    targets = reg.target_points(bone_prepared, 0.01)
    result = reg.register_rigid(bone_prepared, views, start, levels=[(2, 1), (1, 1)],
                                background=rest, background_pose=reg.Pose(center=center),
                                true_pose=truth, targets=targets)
    assert result.initial_mtre_mm > 5 and result.final_mtre_mm < 0.5, result.brief_report()
