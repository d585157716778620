"""ssmx core types: VolumeGeometry, Volume, TriangleMesh, Image2D, errors, logging."""

import gc

import numpy as np
import pytest

import ssmx
from conftest import SOURCE_DIR, box_mesh, mesh_area_volume


def test_version_matches_the_cmake_project():
    cmake = (SOURCE_DIR / "CMakeLists.txt").read_text()
    assert f"project(ssmx VERSION {ssmx.__version__} " in cmake


def test_error_classes_are_python_exception_types():
    assert issubclass(ssmx.InvalidInput, ValueError) and issubclass(ssmx.InvalidInput, ssmx.Error)
    assert issubclass(ssmx.IoError, OSError) and issubclass(ssmx.IoError, ssmx.Error)
    for cls in (ssmx.NotConverged, ssmx.Cancelled, ssmx.InternalError):
        assert issubclass(cls, ssmx.Error)
    assert issubclass(ssmx.Error, RuntimeError)


# ---- VolumeGeometry -----------------------------------------------------------------

def test_geometry_worked_example_of_docs_geometry_md():
    # docs/geometry.md section 2: voxel (10, 20, 3) lies at (-92, -104, 56).
    g = ssmx.VolumeGeometry(size=(64, 64, 16), spacing_mm=(0.8, 0.8, 2.0),
                            origin_mm=(-100, -120, 50))
    np.testing.assert_allclose(g.index_to_world((10, 20, 3)), [-92, -104, 56])
    np.testing.assert_allclose(g.world_to_index([-92, -104, 56]), [10, 20, 3])
    assert g.size == (64, 64, 16) and g.shape == (16, 64, 64)
    assert g.num_voxels() == 64 * 64 * 16
    np.testing.assert_allclose(g.center(), [-100 + 0.8 * 31.5, -120 + 0.8 * 31.5, 50 + 2 * 7.5])
    assert g.validate() == ""


def test_geometry_affines_and_point_sets_with_a_rotated_direction():
    angle = 0.3
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0],
                         [0, 0, 1]])
    spacing = np.array([0.5, 0.7, 2.5])
    origin = np.array([10.0, -5.0, 3.0])
    g = ssmx.VolumeGeometry(size=(5, 6, 7), spacing_mm=spacing, origin_mm=origin,
                            direction=rotation)
    expected = np.eye(4)
    expected[:3, :3] = rotation @ np.diag(spacing)
    expected[:3, 3] = origin
    np.testing.assert_allclose(g.world_from_index(), expected, atol=1e-12)
    np.testing.assert_allclose(g.index_from_world(), np.linalg.inv(expected), atol=1e-12)
    ijk = np.random.default_rng(1).uniform(0, 5, (20, 3))
    world = g.index_to_world(ijk)
    np.testing.assert_allclose(world, ijk @ expected[:3, :3].T + origin)
    np.testing.assert_allclose(g.world_to_index(world), ijk, atol=1e-12)
    # Attributes are read-only views; assignment takes any array-like.
    with pytest.raises(ValueError):
        g.spacing_mm[0] = 3
    g.spacing_mm = (1, 1, 1)
    np.testing.assert_array_equal(g.spacing_mm, [1, 1, 1])
    assert "spacing" in ssmx.VolumeGeometry(size=(2, 2, 2), spacing_mm=(1, -1, 1)).validate()


def test_geometry_rejects_point_sets_of_the_wrong_dtype_or_shape():
    g = ssmx.VolumeGeometry(size=(2, 2, 2))
    with pytest.raises(TypeError, match="float64"):
        g.index_to_world(np.zeros((4, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        g.index_to_world(np.zeros((4, 2)))
    with pytest.raises(TypeError, match="C-contiguous"):
        g.index_to_world(np.zeros((3, 4)).T)
    with pytest.raises(TypeError):
        g.index_to_world("abc")


# ---- Volume -------------------------------------------------------------------------

def test_volume_keeps_the_users_array_and_checks_its_shape_against_the_geometry():
    array = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    v = ssmx.Volume(array)
    assert v.array is array and v.voxel_type == "int16" and v.shape == (2, 3, 4)
    assert v.geometry.size == (4, 3, 2)
    g = ssmx.VolumeGeometry(size=(4, 3, 2), spacing_mm=(1, 2, 3))
    assert ssmx.Volume(np.zeros((2, 3, 4), np.float32), g).voxel_type == "float32"
    with pytest.raises(ValueError, match=r"\(2, 3, 4\)"):
        ssmx.Volume(np.zeros((4, 3, 2), np.float32), g)
    with pytest.raises(TypeError, match="int16 .* or float32"):
        ssmx.Volume(np.zeros((2, 3, 4), np.float64), g)
    with pytest.raises(TypeError, match="C-contiguous"):
        ssmx.Volume(np.zeros((4, 3, 2), np.float32).transpose(2, 1, 0), g)
    with pytest.raises(TypeError, match="got list"):
        ssmx.Volume([[[1]]])
    with pytest.raises(ssmx.InvalidInput, match="spacing"):
        ssmx.Volume(np.zeros((2, 3, 4), np.float32),
                    ssmx.VolumeGeometry(size=(4, 3, 2), spacing_mm=(0, 1, 1)))
    # In-place geometry edits are seen, and re-checked when the volume is used.
    v.geometry.size = (2, 2, 2)
    with pytest.raises(ValueError):
        ssmx.ssm.write_volume(v, "/tmp/never-written.mha")


def test_volume_zeros_is_a_view_of_a_cpp_buffer():
    g = ssmx.VolumeGeometry(size=(3, 4, 5))
    v = ssmx.Volume.zeros(g, "int16")
    assert v.array.dtype == np.int16 and v.array.shape == (5, 4, 3) and not v.array.any()
    assert not v.array.flags.owndata and type(v.array.base).__name__ == "PyCapsule"
    with pytest.raises(ssmx.InvalidInput):
        ssmx.Volume.zeros(g, "uint8")


# ---- TriangleMesh -------------------------------------------------------------------

def test_mesh_holds_the_users_arrays_and_check_mesh_matches_numpy():
    vertices, faces = box_mesh([0, 0, 0], [2, 3, 4])
    mesh = ssmx.TriangleMesh(vertices, faces)
    assert mesh.vertices is vertices and mesh.faces is faces
    assert mesh.num_vertices == 8 and mesh.num_faces == 12 and mesh.normals.shape == (0, 3)
    check = ssmx.check_mesh(mesh)
    area, volume = mesh_area_volume(vertices, faces)
    assert check.watertight() and check.problems() == []
    assert check.surface_area_mm2 == pytest.approx(area) == pytest.approx(2 * (6 + 8 + 12))
    assert check.enclosed_volume_mm3 == pytest.approx(volume) == pytest.approx(24)
    assert check.connected_components == 1 and check.boundary_edges == 0
    bounds = ssmx.compute_bounds(mesh)
    np.testing.assert_array_equal(bounds.min, [0, 0, 0])
    np.testing.assert_array_equal(bounds.extent(), [2, 3, 4])
    ssmx.validate_mesh(mesh)


def test_check_mesh_reports_defects_of_a_broken_mesh_without_crashing():
    vertices, faces = box_mesh([0, 0, 0], [1, 1, 1])
    broken = faces.copy()
    broken[0] = [0, 0, 1]      # repeated index
    broken[1] = [1, 2, 99]     # out of range
    mesh = ssmx.TriangleMesh(vertices, broken[:11].copy())
    check = ssmx.check_mesh(mesh)
    assert check.out_of_range_indices == 1 and check.degenerate_faces >= 1
    assert not check.watertight() and check.problems()
    with pytest.raises(ssmx.InvalidInput, match="refers to vertex 99"):
        ssmx.validate_mesh(mesh, "my mesh")
    mesh.faces = np.ascontiguousarray(broken[[0, 2, 3]])
    assert ssmx.remove_repeated_index_faces(mesh) == 1
    assert mesh.num_faces == 2 and not (mesh.faces[:, 0] == mesh.faces[:, 1]).any()


def test_mesh_rejects_wrong_dtype_shape_layout_and_non_arrays():
    vertices, faces = box_mesh([0, 0, 0], [1, 1, 1])
    with pytest.raises(TypeError, match="int32"):
        ssmx.TriangleMesh(vertices, faces.astype(np.int64))
    with pytest.raises(TypeError, match="float64"):
        ssmx.TriangleMesh(vertices.astype(np.float32), faces)
    with pytest.raises(ValueError, match=r"\(V, 3\)"):
        ssmx.TriangleMesh(vertices[:, :2].copy(), faces)
    with pytest.raises(TypeError, match="C-contiguous"):
        ssmx.TriangleMesh(np.asfortranarray(vertices), faces)
    with pytest.raises(TypeError, match="got list"):
        ssmx.TriangleMesh(vertices.tolist(), faces)
    mesh = ssmx.TriangleMesh(vertices, faces)
    with pytest.raises(TypeError, match="C-contiguous"):
        mesh.vertices = np.zeros((16, 3))[::2]
    # Scalars and normals are checked when the mesh goes to C++.
    mesh.scalars["bad"] = np.zeros(8, np.float32)
    with pytest.raises(TypeError, match='scalars\\["bad"\\]'):
        ssmx.check_mesh(mesh)
    mesh.scalars["bad"] = np.zeros(7)
    with pytest.raises(ValueError, match="7 values for 8 vertices"):
        ssmx.check_mesh(mesh)
    del mesh.scalars["bad"]
    mesh.normals = np.zeros((3, 3))
    with pytest.raises(ValueError, match="3 rows for 8 vertices"):
        ssmx.check_mesh(mesh)
    mesh.normals = None
    assert mesh.normals.shape == (0, 3)
    with pytest.raises(TypeError):
        ssmx.check_mesh(vertices)  # not a TriangleMesh


def test_mesh_outputs_are_views_that_outlive_the_mesh():
    mesh = ssmx.ssm.make_icosphere(5.0, 2)
    vertices, faces, normals = mesh.vertices, mesh.faces, mesh.normals
    for array in (vertices, faces, normals):
        assert not array.flags.owndata and type(array.base).__name__ == "PyCapsule"
    assert vertices.base is faces.base  # one C++ mesh owns them all
    copy = mesh.copy()
    assert not np.shares_memory(copy.vertices, vertices)
    del mesh, copy
    gc.collect()
    np.testing.assert_allclose(np.linalg.norm(vertices, axis=1), 5.0)
    assert faces.max() == len(vertices) - 1


# ---- Image2D, logging, files -------------------------------------------------------------

def test_image2d_checks_pixels_and_quantity():
    pixels = np.ones((3, 5), np.float32)
    image = ssmx.Image2D(pixels, "line_integral", 0.5, 0.25)
    assert image.pixels is pixels and (image.rows, image.cols) == (3, 5)
    assert image.quantity == "line_integral" and image.pixel_spacing_v_mm == 0.25
    image.quantity = "mask"
    with pytest.raises(ssmx.InvalidInput):
        image.quantity = "counts"
    with pytest.raises(TypeError, match="float32"):
        ssmx.Image2D(np.ones((3, 5)))
    with pytest.raises(ValueError, match=r"\(rows, cols\)"):
        ssmx.Image2D(np.ones(5, np.float32))


def test_log_level_round_trip():
    previous = ssmx.get_log_level()
    try:
        ssmx.set_log_level("error")
        assert ssmx.get_log_level() == "error"
        with pytest.raises(ssmx.InvalidInput):
            ssmx.set_log_level("verbose")
    finally:
        ssmx.set_log_level(previous)


def test_write_file_atomically(tmp_path):
    target = tmp_path / "a.bin"
    ssmx.write_file_atomically(str(target), b"\x00\x01abc")
    assert target.read_bytes() == b"\x00\x01abc"
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]  # no temporary left behind
    with pytest.raises(ssmx.IoError):
        ssmx.write_file_atomically(str(tmp_path / "missing" / "a.bin"), b"x")


# ---- Progress callbacks -------------------------------------------------------------------

def _small_ball():
    coords = np.arange(24) - 11.5
    z, y, x = np.meshgrid(coords, coords, coords, indexing="ij")
    return ssmx.Volume(np.ascontiguousarray(8.0 - np.sqrt(x * x + y * y + z * z),
                                            dtype=np.float32))


def test_progress_callbacks_cancel_and_propagate_python_errors():
    seen = []
    ssmx.ssm.extract_iso_surface(_small_ball(), 0.0, progress=lambda f, s: seen.append((f, s)))
    assert seen[-1][0] == 1.0 and all(isinstance(s, str) for _, s in seen)
    with pytest.raises(ssmx.Cancelled):
        ssmx.ssm.extract_iso_surface(_small_ball(), 0.0, progress=lambda f, s: f < 0.5)

    class Interrupted(Exception):
        pass

    def interrupt(fraction, stage):
        raise Interrupted(stage)

    with pytest.raises(Interrupted):
        ssmx.ssm.extract_iso_surface(_small_ball(), 0.0, progress=interrupt)
    # The library is usable after a cancelled call.
    assert ssmx.ssm.extract_iso_surface(_small_ball(), 0.0).num_faces > 0


def test_tqdm_progress_bar_reaches_100_percent():
    import io

    stream = io.StringIO()
    with ssmx.tqdm_progress("surface", file=stream) as progress:
        ssmx.ssm.extract_iso_surface(_small_ball(), 0.0, progress=progress)
        assert progress.bar.n == pytest.approx(100.0)
    assert "100%" in stream.getvalue()
