"""ssmx.ssm surfaces, distances, label maps and voxelisation against closed forms."""

import gc
import json

import numpy as np
import pytest

import ssmx
from conftest import box_mesh, mesh_area_volume


def _ball_volume(radius_mm, spacing_mm=1.0, n=40, dtype=np.float32):
    """A volume whose voxels hold radius - |p| (positive inside), centred at the origin."""
    coords = (np.arange(n) - (n - 1) / 2) * spacing_mm
    z, y, x = np.meshgrid(coords, coords, coords, indexing="ij")
    values = (radius_mm - np.sqrt(x * x + y * y + z * z)).astype(dtype)
    origin = [coords[0]] * 3
    return ssmx.Volume(np.ascontiguousarray(values),
                       ssmx.VolumeGeometry(size=(n, n, n), spacing_mm=[spacing_mm] * 3,
                                           origin_mm=origin))


def test_iso_surface_of_a_ball_encloses_its_volume():
    radius = 12.0
    stages = []
    mesh = ssmx.ssm.extract_iso_surface(_ball_volume(radius), 0.0, smooth_iterations=0,
                                        progress=lambda f, s: stages.append(s))
    check = ssmx.check_mesh(mesh)
    assert check.watertight() and check.connected_components == 1
    assert check.enclosed_volume_mm3 == pytest.approx(4 / 3 * np.pi * radius ** 3, rel=0.01)
    np.testing.assert_allclose(np.linalg.norm(mesh.vertices, axis=1), radius, atol=0.05)
    assert mesh.normals.shape == mesh.vertices.shape and stages
    with pytest.raises(ssmx.InvalidInput, match="range"):
        ssmx.ssm.extract_iso_surface(_ball_volume(radius), 100.0)
    with pytest.raises(ssmx.InvalidInput):
        ssmx.ssm.extract_iso_surface(_ball_volume(radius), 0.0, keep="biggest")


def test_label_surface_decimation_smoothing_and_normals():
    labels = np.zeros((20, 20, 20), np.int16)
    labels[4:14, 5:15, 6:16] = 3  # a 10 mm cube of label 3
    volume = ssmx.Volume(labels)
    mesh = ssmx.ssm.extract_label_surface(volume, 3, smooth_iterations=0, fill_holes=False)
    check = ssmx.check_mesh(mesh)
    # Without smoothing the discrete surface runs halfway between voxel centres.
    assert check.enclosed_volume_mm3 == pytest.approx(1000.0, rel=0.05)
    with pytest.raises(ssmx.InvalidInput, match="3"):
        ssmx.ssm.extract_label_surface(volume, 7)
    smooth = ssmx.ssm.smooth_surface(mesh, 20, 0.1)
    np.testing.assert_array_equal(smooth.faces, mesh.faces)
    assert not np.allclose(smooth.vertices, mesh.vertices)
    small = ssmx.ssm.decimate_surface(mesh, 100)
    assert small.num_faces <= 110 and ssmx.check_mesh(small).watertight()
    # Area-weighted normals computed in numpy.
    v, f = mesh.vertices, mesh.faces
    face_normals = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    expected = np.zeros_like(v)
    for k in range(3):
        np.add.at(expected, f[:, k], face_normals)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(ssmx.ssm.compute_vertex_normals(mesh), expected, atol=1e-9)


def test_orient_outward_flips_an_inward_box_in_place():
    vertices, faces = box_mesh([0, 0, 0], [1, 2, 3])
    mesh = ssmx.TriangleMesh(vertices, np.ascontiguousarray(faces[:, ::-1]))
    assert ssmx.check_mesh(mesh).enclosed_volume_mm3 == pytest.approx(-6)
    assert ssmx.ssm.orient_outward(mesh) is True
    assert ssmx.check_mesh(mesh).enclosed_volume_mm3 == pytest.approx(6)
    assert ssmx.ssm.orient_outward(mesh) is False
    broken = ssmx.TriangleMesh(vertices, np.array([[0, 1, 42]], np.int32))
    with pytest.raises(ssmx.InvalidInput, match="42"):
        ssmx.ssm.orient_outward(broken)
    with pytest.raises(ssmx.InvalidInput, match="42"):
        ssmx.ssm.vertex_areas(broken)


def test_components_of_two_boxes():
    v1, f1 = box_mesh([0, 0, 0], [1, 1, 1])
    v2, f2 = box_mesh([5, 0, 0], [8, 3, 3])
    both = ssmx.TriangleMesh(np.vstack([v1, v2]), np.vstack([f1, f2 + 8]).astype(np.int32))
    parts = ssmx.ssm.split_components(both)
    assert [ssmx.check_mesh(p).enclosed_volume_mm3 for p in parts] == pytest.approx([27, 1])
    largest = ssmx.ssm.keep_largest_component(both)
    assert ssmx.check_mesh(largest).enclosed_volume_mm3 == pytest.approx(27)
    # Vertices come in the order the faces first use them.
    key = lambda v: v[np.lexsort(v.T[::-1])]  # noqa: E731
    np.testing.assert_array_equal(key(largest.vertices), key(v2))


def test_surface_locator_against_exact_box_distances():
    vertices, faces = box_mesh([0, 0, 0], [2, 2, 2])
    locator = ssmx.ssm.SurfaceLocator(ssmx.TriangleMesh(vertices, faces))
    assert locator.num_faces == 12
    hit = locator.closest_point([1, 1, 5])
    np.testing.assert_allclose(hit.point, [1, 1, 2])
    assert hit.distance == pytest.approx(3)
    assert locator.signed_distance([1, 1, 1]) == pytest.approx(-1)
    assert locator.signed_distance((5, 1, 1)) == pytest.approx(3)
    points = np.random.default_rng(7).uniform(-3, 5, (500, 3))
    # Exact signed distance to an axis-aligned box.
    q = np.abs(points - 1.0) - 1.0
    truth = np.linalg.norm(np.maximum(q, 0), axis=1) + np.minimum(q.max(axis=1), 0)
    np.testing.assert_allclose(locator.signed_distances(points), truth, atol=1e-12)
    np.testing.assert_allclose(locator.signed_distance(points), truth, atol=1e-12)
    with pytest.raises(TypeError, match="C-contiguous"):
        locator.signed_distances(np.asfortranarray(points))
    with pytest.raises(TypeError, match="float64"):
        locator.signed_distances(points.astype(np.float32))
    with pytest.raises(ValueError):
        locator.signed_distances(points[:, :2].copy())


def test_surface_distance_between_nested_boxes():
    inner = ssmx.TriangleMesh(*box_mesh([1, 1, 1], [3, 3, 3]))
    outer = ssmx.TriangleMesh(*box_mesh([0, 0, 0], [4, 4, 4]))
    summary = ssmx.ssm.compute_surface_distance(inner, outer, dice_spacing_mm=0.1)
    # Each corner of the inner box is 1 mm from three faces of the outer box, inside it
    # (negative); each outer corner is sqrt(3) mm from the nearest inner corner.
    np.testing.assert_allclose(summary.signed_distance_a_mm, -1.0)
    np.testing.assert_allclose(summary.signed_distance_b_mm, np.sqrt(3.0))
    assert summary.a_to_b.max_mm == pytest.approx(1.0)
    assert summary.hausdorff_mm == pytest.approx(np.sqrt(3.0))
    assert summary.volume_a_mm3 == pytest.approx(8) and summary.volume_b_mm3 == pytest.approx(64)
    assert summary.area_b_mm2 == pytest.approx(96)
    assert summary.dice == pytest.approx(2 * 8 / (8 + 64), rel=0.02)
    assert "mm" in summary.brief_report()
    # Per-vertex arrays are read-only views held by the summary, valid after it is gone.
    distances = summary.signed_distance_b_mm
    assert not distances.flags.writeable and not distances.flags.owndata
    del summary
    gc.collect()
    np.testing.assert_allclose(distances, np.sqrt(3.0))
    no_dice = ssmx.ssm.compute_surface_distance(inner, outer, compute_dice=False)
    assert np.isnan(no_dice.dice)


def test_vertex_areas_and_diverging_colors():
    vertices, faces = box_mesh([0, 0, 0], [1, 2, 3])
    mesh = ssmx.TriangleMesh(vertices, faces)
    areas = ssmx.ssm.vertex_areas(mesh)
    expected = np.zeros(8)
    a, b, c = (vertices[faces[:, k]] for k in range(3))
    third = np.linalg.norm(np.cross(b - a, c - a), axis=1) / 6
    for k in range(3):
        np.add.at(expected, faces[:, k], third)
    np.testing.assert_allclose(areas, expected)
    assert areas.sum() == pytest.approx(22.0)
    values = np.array([-2.0, 0.0, 2.0, 5.0, -5.0, 0.0, 0.0, 0.0])
    ssmx.ssm.add_diverging_colors(values, 2.0, mesh)
    rgb = np.stack([mesh.scalars[c] for c in ("red", "green", "blue")], axis=1)
    np.testing.assert_allclose(rgb[1], [247, 247, 247], atol=0.5)  # 0 -> white
    np.testing.assert_allclose(rgb[2], rgb[3])  # clamped at +range
    assert rgb[2, 0] > rgb[2, 2] and rgb[0, 2] > rgb[0, 0]  # + red, - blue
    with pytest.raises(ssmx.InvalidInput):
        ssmx.ssm.add_diverging_colors(values[:3].copy(), 2.0, mesh)
    with pytest.raises(TypeError):
        ssmx.ssm.add_diverging_colors(values.astype(np.float32), 2.0, mesh)


def test_voxelize_a_box_and_grid_around_mesh():
    mesh = ssmx.TriangleMesh(*box_mesh([0.25, 0.25, 0.25], [4.25, 3.25, 2.25]))
    grid = ssmx.ssm.grid_around_mesh(mesh, 0.5, 1.0)
    np.testing.assert_allclose(np.asarray(grid.origin_mm) % 0.5, 0, atol=1e-12)
    volume = ssmx.ssm.voxelize(mesh, grid)
    assert volume.voxel_type == "int16" and volume.geometry.size == grid.size
    # Centres on multiples of 0.5 strictly inside (0.25, 4.25) x (0.25, 3.25) x (0.25, 2.25).
    assert int(volume.array.sum()) == 8 * 6 * 4
    same = ssmx.ssm.voxelize(mesh, 0.5, margin_mm=1.0)
    np.testing.assert_array_equal(same.array, volume.array)


def test_label_map_file_with_a_json_table(tmp_path):
    labels = np.zeros((4, 5, 6), np.int16)
    labels[1:3, 1:4, 2:5] = 2
    labels[0, 0, 0] = 7
    ssmx.ssm.write_volume(ssmx.Volume(labels), str(tmp_path / "seg.nii.gz"))
    (tmp_path / "seg.json").write_text(json.dumps({"femur_left": 2, "marker": 7}))
    entries = ssmx.ssm.list_labels(str(tmp_path / "seg.nii.gz"))
    assert sorted((e.name, e.id) for e in entries) == [("femur_left", 2), ("marker", 7)]
    mask = ssmx.ssm.read_label_mask(str(tmp_path / "seg.nii.gz"), "femur_left")
    np.testing.assert_array_equal(mask.array, (labels == 2).astype(np.int16))
    by_id = ssmx.ssm.read_label_mask(str(tmp_path / "seg.nii.gz"), 7)
    assert int(by_id.array.sum()) == 1
    with pytest.raises(ssmx.InvalidInput, match="femur_left"):
        ssmx.ssm.read_label_mask(str(tmp_path / "seg.nii.gz"), "tibia")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ssmx.InvalidInput, match="bad.json"):
        ssmx.ssm.list_labels(str(tmp_path / "seg.nii.gz"), str(tmp_path / "bad.json"))
    with pytest.raises(ssmx.IoError):
        ssmx.ssm.list_labels(str(tmp_path / "missing"))


def test_real_totalsegmentator_labels_mesh_a_femur(data):
    folder = data / "ct" / "totalseg_abdomen" / "labels"
    names = [e.name for e in ssmx.ssm.list_labels(str(folder))]
    assert "femur_left" in names and "sacrum" in names and names == sorted(names)
    mask = ssmx.ssm.read_label_mask(str(folder), "femur_left")
    voxel_mm3 = float(np.prod(mask.geometry.spacing_mm))
    femur = ssmx.ssm.extract_label_surface(mask, 1, smooth_iterations=10)
    check = ssmx.check_mesh(femur)
    assert check.watertight()
    # Smoothed, the surface encloses about the labelled voxels' volume.
    assert check.enclosed_volume_mm3 == pytest.approx(mask.array.sum() * voxel_mm3, rel=0.15)
