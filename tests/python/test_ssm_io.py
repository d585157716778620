"""ssmx.ssm volume, DICOM and mesh IO, checked with independent readers and writers."""

import gc
import struct

import numpy as np
import pytest

import ssmx
from conftest import (box_mesh, mesh_area_volume, read_metaimage, read_nifti,
                      write_metaimage)

LPS_FROM_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def _geometry():
    angle = 0.25
    direction = np.array([[1, 0, 0], [0, np.cos(angle), -np.sin(angle)],
                          [0, np.sin(angle), np.cos(angle)]])
    return ssmx.VolumeGeometry(size=(7, 5, 4), spacing_mm=(0.8, 0.9, 2.5),
                               origin_mm=(-100, -120, 50), direction=direction)


def test_write_volume_mha_read_back_with_numpy_and_zlib(tmp_path):
    g = _geometry()
    voxels = np.random.default_rng(3).integers(-1000, 3000, g.shape).astype(np.int16)
    ssmx.ssm.write_volume(ssmx.Volume(voxels, g), str(tmp_path / "ct.mha"))
    array, header = read_metaimage(tmp_path / "ct.mha")
    np.testing.assert_array_equal(array, voxels)
    assert header["DimSize"] == "7 5 4"
    np.testing.assert_allclose([float(x) for x in header["ElementSpacing"].split()], g.spacing_mm)
    np.testing.assert_allclose([float(x) for x in header["Offset"].split()], g.origin_mm)
    # MetaImage stores the direction column by column.
    matrix = np.array([float(x) for x in header["TransformMatrix"].split()]).reshape(3, 3).T
    np.testing.assert_allclose(matrix, g.direction, atol=1e-12)


def test_write_volume_nifti_sform_is_ras_of_world_from_index(tmp_path):
    g = _geometry()
    voxels = np.random.default_rng(4).normal(size=g.shape).astype(np.float32)
    ssmx.ssm.write_volume(ssmx.Volume(voxels, g), str(tmp_path / "ct.nii"))
    array, sform, pixdim = read_nifti(tmp_path / "ct.nii")
    np.testing.assert_array_equal(array, voxels)
    np.testing.assert_allclose(sform, LPS_FROM_RAS @ g.world_from_index(), atol=1e-5)
    np.testing.assert_allclose(pixdim[1:4], g.spacing_mm, rtol=1e-6)


def test_read_volume_of_a_file_written_by_hand(tmp_path):
    voxels = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6) * 0.5
    write_metaimage(tmp_path / "hand.mha", voxels, spacing=(1.5, 2.0, 3.0), origin=(1, 2, 3))
    result = ssmx.ssm.read_volume(str(tmp_path / "hand.mha"))
    assert result.format == "MetaImage" and not result.resampled
    volume = result.volume
    assert volume.voxel_type == "float32"
    np.testing.assert_array_equal(volume.array, voxels)
    np.testing.assert_allclose(volume.geometry.spacing_mm, [1.5, 2.0, 3.0])
    np.testing.assert_allclose(volume.geometry.origin_mm, [1, 2, 3])
    # The returned voxels are a view of the C++ buffer and outlive the result.
    array = volume.array
    assert not array.flags.owndata and type(array.base).__name__ == "PyCapsule"
    del result, volume
    gc.collect()
    np.testing.assert_array_equal(array, voxels)
    assert ssmx.ssm.has_volume_extension("a.nii.gz") and not ssmx.ssm.has_volume_extension("a.stl")


def test_read_volume_in_slabs_matches_the_whole_volume(tmp_path):
    voxels = np.random.default_rng(5).integers(-500, 500, (10, 4, 3)).astype(np.int16)
    write_metaimage(tmp_path / "s.mha", voxels, spacing=(1, 1, 2), origin=(0, 0, 0))
    slabs = {}

    def consume(whole, slab, k_begin):
        assert whole.size == (3, 4, 10)
        slabs[k_begin] = slab.array.copy()

    geometry = ssmx.ssm.read_volume_in_slabs(str(tmp_path / "s.mha"), 3, consume)
    assert geometry.size == (3, 4, 10) and sorted(slabs) == [0, 3, 6, 9]
    np.testing.assert_array_equal(np.concatenate([slabs[k] for k in sorted(slabs)]), voxels)

    class Stop(Exception):
        pass

    def fail(whole, slab, k_begin):
        raise Stop("from the consumer")

    with pytest.raises(Stop, match="from the consumer"):
        ssmx.ssm.read_volume_in_slabs(str(tmp_path / "s.mha"), 3, fail)


def test_read_real_ct_equals_an_independent_nifti_reader(data):
    path = data / "ct" / "totalseg_abdomen" / "example_ct.nii.gz"
    result = ssmx.ssm.read_volume(str(path))
    array, sform, _ = read_nifti(path)
    assert result.format == "NIfTI" and result.volume.voxel_type == "int16"
    np.testing.assert_array_equal(result.volume.array, array)
    np.testing.assert_allclose(result.volume.geometry.world_from_index(), LPS_FROM_RAS @ sform,
                               atol=1e-4)


def test_dicom_series_listing_and_tilt_correction_with_progress(data):
    folder = str(data / "dicom" / "ge_head_tilt")
    series = ssmx.ssm.list_dicom_series(folder)
    assert len(series) == 1 and series[0].num_slices == 28 and series[0].modality == "CT"
    calls = []
    result = ssmx.ssm.read_volume(folder, allow_gaps=True,
                                  progress=lambda f, stage: calls.append((f, stage)))
    codes = {f.code for f in result.findings}
    assert result.format == "DICOM" and result.resampled and "gantry_tilt" in codes
    assert calls and calls[-1][0] == 1.0
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)  # never decreases
    warnings = ssmx.ssm.findings_at_least(result.findings, "warning")
    assert all(f.severity in ("warning", "error") for f in warnings)


def test_progress_false_cancels_and_python_errors_propagate(data):
    folder = str(data / "dicom" / "ge_head_tilt")
    with pytest.raises(ssmx.Cancelled):
        ssmx.ssm.read_volume(folder, allow_gaps=True, progress=lambda f, s: False)

    def broken(fraction, stage):
        raise KeyError("progress bug")

    with pytest.raises(KeyError, match="progress bug"):
        ssmx.ssm.read_volume(folder, allow_gaps=True, progress=broken)
    with pytest.raises(TypeError, match="callable"):
        ssmx.ssm.read_volume(folder, progress=42)


def test_analyze_stack_finds_a_missing_slice():
    slices = []
    for z in (8.0, 0.0, 2.0, 10.0, 4.0):  # shuffled; 6 is missing
        s = ssmx.ssm.SliceGeometry()
        s.position_mm = (0, 0, z)
        s.rows, s.cols = 16, 16
        s.source = f"z{z}"
        slices.append(s)
    stack = ssmx.ssm.analyze_stack(slices)
    assert stack.order == [1, 2, 4, 0, 3]
    np.testing.assert_allclose(stack.positions_mm, [0, 2, 4, 8, 10])
    assert stack.median_spacing_mm == pytest.approx(2.0)
    assert stack.has_gaps and stack.refused and not stack.tilted
    np.testing.assert_allclose(stack.normal, [0, 0, 1])
    allowed = ssmx.ssm.analyze_stack(slices, allow_gaps=True)
    assert allowed.has_gaps and not allowed.refused


def test_volume_errors_missing_and_malformed_files(tmp_path):
    with pytest.raises(ssmx.IoError) as missing:
        ssmx.ssm.read_volume(str(tmp_path / "missing.nii.gz"))
    assert "missing.nii.gz" in str(missing.value)
    (tmp_path / "bad.mha").write_text("ObjectType = Image\nNDims = banana\n")
    with pytest.raises(ssmx.Error) as bad:
        ssmx.ssm.read_volume(str(tmp_path / "bad.mha"))
    assert "bad.mha" in str(bad.value)
    with pytest.raises(ssmx.InvalidInput):
        ssmx.ssm.list_dicom_series(str(tmp_path))


# ---- Meshes -------------------------------------------------------------------------

def _parse_binary_stl(path):
    raw = path.read_bytes()
    (count,) = struct.unpack_from("<I", raw, 80)
    records = np.frombuffer(raw, dtype=np.dtype([("n", "<f4", 3), ("v", "<f4", (3, 3)),
                                                 ("a", "<u2")]), count=count, offset=84)
    return records["v"].astype(np.float64)


def test_write_stl_read_back_with_numpy(tmp_path):
    vertices, faces = box_mesh([-1, -2, -3], [4, 5, 6])
    ssmx.ssm.write_mesh(ssmx.TriangleMesh(vertices, faces), str(tmp_path / "box.stl"))
    triangles = _parse_binary_stl(tmp_path / "box.stl")
    np.testing.assert_allclose(triangles, vertices[faces])
    ssmx.ssm.write_mesh(ssmx.TriangleMesh(vertices, faces), str(tmp_path / "box_ascii.stl"),
                        stl_encoding="ascii")
    assert (tmp_path / "box_ascii.stl").read_text().startswith("solid")
    with pytest.raises(ssmx.InvalidInput):
        ssmx.ssm.write_mesh(ssmx.TriangleMesh(vertices, faces), str(tmp_path / "x.stl"),
                            stl_encoding="utf8")


def test_read_obj_written_by_hand_with_a_quad_and_ply_scalars(tmp_path):
    (tmp_path / "quad.obj").write_text(
        "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nv 0 0 1\nf 1 2 3 4\nf 1 2 5\n")
    mesh, report = ssmx.ssm.read_mesh_with_report(str(tmp_path / "quad.obj"))
    assert mesh.num_vertices == 5 and mesh.num_faces == 3 and report.polygons_triangulated == 1
    area, _ = mesh_area_volume(mesh.vertices, mesh.faces)
    assert area == pytest.approx(1.0 + 0.5)
    mesh.scalars["thickness_mm"] = np.arange(5, dtype=np.float64)
    ssmx.ssm.write_mesh(mesh, str(tmp_path / "s.ply"))
    back = ssmx.ssm.read_mesh(str(tmp_path / "s.ply"))
    np.testing.assert_array_equal(back.vertices, mesh.vertices)
    np.testing.assert_array_equal(back.faces, mesh.faces)
    np.testing.assert_array_equal(back.scalars["thickness_mm"], np.arange(5))
    assert ssmx.ssm.has_mesh_extension("a.vtp") and not ssmx.ssm.has_mesh_extension("a.nii")


def test_mesh_errors_missing_and_malformed_files(tmp_path):
    with pytest.raises(ssmx.IoError, match="nothing.stl"):
        ssmx.ssm.read_mesh(str(tmp_path / "nothing.stl"))
    (tmp_path / "bad.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 9\n")
    with pytest.raises(ssmx.InvalidInput, match="bad.obj"):
        ssmx.ssm.read_mesh(str(tmp_path / "bad.obj"))
    (tmp_path / "garbage.ply").write_bytes(b"\x00\x01garbage")
    with pytest.raises(ssmx.Error, match="garbage.ply"):
        ssmx.ssm.read_mesh(str(tmp_path / "garbage.ply"))


def test_icosphere_counts_radius_and_area():
    for s in (0, 1, 3):
        mesh = ssmx.ssm.make_icosphere(7.5, s, center_mm=(1, 2, 3))
        assert mesh.num_vertices == 10 * 4 ** s + 2 and mesh.num_faces == 20 * 4 ** s
        np.testing.assert_allclose(np.linalg.norm(mesh.vertices - [1, 2, 3], axis=1), 7.5)
        area, volume = mesh_area_volume(mesh.vertices - [1, 2, 3], mesh.faces)
        assert volume > 0  # outward
        check = ssmx.check_mesh(mesh)
        assert check.surface_area_mm2 == pytest.approx(area)
        assert check.enclosed_volume_mm3 == pytest.approx(volume)
    assert area == pytest.approx(4 * np.pi * 7.5 ** 2, rel=0.01)
    with pytest.raises(ssmx.InvalidInput):
        ssmx.ssm.make_icosphere(-1.0, 2)


def test_read_real_femur_mesh(data):
    mesh = ssmx.ssm.read_mesh(str(data / "meshes" / "femur_vsd" / "VSD001_femur.vtk"))
    extent = ssmx.compute_bounds(mesh).extent()
    assert 400 < extent.max() < 500  # a whole femur, 425-472 mm long
