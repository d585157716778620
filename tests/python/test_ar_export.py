"""ssmx.ar_export: the AR frame, GLB/USDZ/OBJ bytes parsed here, colours, scenes."""

import io
import json
import os
import shutil
import struct
import zipfile
import zlib

import numpy as np
import pytest

import ssmx
from conftest import SOURCE_DIR, box_mesh

ar = ssmx.ar_export


def _scene(heat=False, place_on_origin=True):
    femur = ssmx.ssm.make_icosphere(20.0, 2, center_mm=(50, -30, 400))
    femur.scalars["uncertainty_mm"] = np.linspace(0.0, 3.0, femur.num_vertices)
    tibia = ssmx.TriangleMesh(*box_mesh([-10, -10, 0], [10, 10, 300]))
    tibia.scalars["uncertainty_mm"] = np.full(8, 1.0)
    structures = [ar.Structure("femur_left", femur), ar.Structure("tibia_left", tibia,
                                                                  ar.parse_color("#9fb8d0"))]
    heat_map = ar.HeatMap("uncertainty_mm", "magma", units="mm") if heat else None
    return ar.Scene(structures, heat_map, place_on_origin)


def _glb_chunks(data):
    magic, version, length = struct.unpack_from("<4sII", data, 0)
    assert magic == b"glTF" and version == 2 and length == len(data)
    json_length, json_type = struct.unpack_from("<I4s", data, 12)
    assert json_type == b"JSON"
    document = json.loads(data[20:20 + json_length])
    bin_length, bin_type = struct.unpack_from("<I4s", data, 20 + json_length)
    assert bin_type == b"BIN\x00"
    start = 28 + json_length
    return document, data[start:start + bin_length]


def test_ar_frame_example_of_docs_geometry_md():
    np.testing.assert_allclose(ar.ar_from_lps(), 0.001 * np.array([[1, 0, 0], [0, 0, 1],
                                                                   [0, -1, 0]]))
    assert ar.METRES_PER_MILLIMETRE == 0.001
    mesh = ssmx.TriangleMesh(np.array([[10.0, 20.0, 30.0], [0, 0, 0], [1, 0, 0]]),
                             np.array([[0, 1, 2]], np.int32),
                             normals=np.array([[0.0, 1.0, 0.0]] * 3))
    converted = ar.to_ar_frame(mesh)
    np.testing.assert_allclose(converted.vertices[0], [0.010, 0.030, -0.020])
    np.testing.assert_allclose(converted.normals[0], [0, 0, -1])  # posterior -> -Z
    np.testing.assert_array_equal(converted.faces, mesh.faces)


def test_glb_positions_are_the_lps_vertices_in_metres():
    scene = _scene(heat=True, place_on_origin=False)
    document, binary = _glb_chunks(ar.glb_bytes(scene))
    names = [node.get("name") for node in document["nodes"]]
    assert "femur_left" in names and "tibia_left" in names
    femur = scene.structures[0].mesh
    mesh_index = next(i for i, m in enumerate(document["meshes"]) if m["name"] == "femur_left")
    primitive = document["meshes"][mesh_index]["primitives"][0]
    accessor = document["accessors"][primitive["attributes"]["POSITION"]]
    view = document["bufferViews"][accessor["bufferView"]]
    assert accessor["count"] == femur.num_vertices and accessor["componentType"] == 5126
    offset = view.get("byteOffset", 0) + accessor.get("byteOffset", 0)
    positions = np.frombuffer(binary, "<f4", accessor["count"] * 3, offset).reshape(-1, 3)
    np.testing.assert_allclose(positions, femur.vertices @ ar.ar_from_lps().T, atol=1e-6)
    assert "COLOR_0" in primitive["attributes"]
    with_origin, _ = _glb_chunks(ar.glb_bytes(_scene()))
    assert any("translation" in node for node in with_origin["nodes"])


def test_usdz_package_layout(tmp_path):
    scene = _scene(heat=True)
    data = ar.usdz_bytes(scene)
    assert data == ar.usdz_bytes(scene)  # byte-for-byte reproducible
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        assert infos[0].filename == "model.usda"
        assert "textures/colormap.png" in archive.namelist()
        for info in infos:
            assert info.compress_type == zipfile.ZIP_STORED
            name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)
            assert (info.header_offset + 30 + name_length + extra_length) % 64 == 0
        usda = archive.read("model.usda").decode()
    assert 'upAxis = "Y"' in usda and "metersPerUnit = 1" in usda
    assert usda == ar.usda_text(scene)
    ar.write_usdz(scene, str(tmp_path / "m.usdz"))
    assert (tmp_path / "m.usdz").read_bytes() == data
    ar.write_glb(scene, str(tmp_path / "m.glb"))
    assert (tmp_path / "m.glb").read_bytes() == ar.glb_bytes(scene)


def _png_rgb(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, idat, header = 8, b"", None
    while offset < len(data):
        length, kind = struct.unpack_from(">I4s", data, offset)
        body = data[offset + 8:offset + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        offset += 12 + length
    width, height, depth, colour = header[:4]
    assert depth == 8 and colour == 2
    raw = zlib.decompress(idat)
    stride = 1 + 3 * width
    assert all(raw[r * stride] == 0 for r in range(height))  # no PNG filters
    return np.frombuffer(raw, np.uint8).reshape(height, stride)[:, 1:].reshape(height, width, 3)


def test_colormaps_match_matplotlib():
    from matplotlib import colormaps

    assert ar.colormap_names() == ["viridis", "magma", "inferno", "plasma"]
    for name in ar.colormap_names():
        table = colormaps[name]
        for k in (0, 37, 128, 255):
            np.testing.assert_allclose(ar.sample_colormap(name, k / 255), table(k)[:3], atol=1e-6)
        t = np.linspace(0, 1, 256)
        np.testing.assert_allclose(ar.sample_colormap(name, t), table(t)[:, :3], atol=1e-6)
        pixels = _png_rgb(ar.colormap_png(name))
        assert pixels.shape == (4, 256, 3)
        np.testing.assert_array_equal(pixels[0, 0], np.round(np.array(table(0)[:3]) * 255))
    with pytest.raises(ssmx.InvalidInput, match="viridis"):
        ar.sample_colormap("jet", 0.5)


def test_colour_helpers():
    np.testing.assert_allclose(ar.parse_color("#ff8000"), [1, 128 / 255, 0])
    assert ar.color_hex((1, 128 / 255, 0)) == "#ff8000"
    np.testing.assert_allclose(ar.parse_color("bone"), ar.default_structure_color(0))
    with pytest.raises(ssmx.InvalidInput):
        ar.parse_color("#12")
    c = np.linspace(0, 1, 11)
    srgb = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    np.testing.assert_allclose(ar.srgb_to_linear(c), srgb, atol=1e-12)
    np.testing.assert_allclose(ar.linear_to_srgb(ar.srgb_to_linear(c)), c, atol=1e-12)
    assert ar.infer_side("femur_left") == "left" and ar.infer_side("R tibia") == "right"
    assert ar.infer_side("sacrum") == ""


def test_scene_validation_and_heat_map_range():
    scene = _scene(heat=True)
    assert scene.structures[0].side == "left"
    ar.validate_scene(scene)
    np.testing.assert_allclose(ar.heat_map_range(scene), [0.0, 3.0])
    scene.heat_map.min, scene.heat_map.max = 0.5, 2.0
    np.testing.assert_allclose(ar.heat_map_range(scene), [0.5, 2.0])
    with pytest.raises(ssmx.InvalidInput):
        ar.validate_scene(ar.Scene())
    dup = _scene()
    dup.structures[1].name = "femur_left"
    with pytest.raises(ssmx.InvalidInput, match="femur_left"):
        ar.validate_scene(dup)
    missing = _scene()
    missing.heat_map = ar.HeatMap("thickness_mm")
    with pytest.raises(ssmx.InvalidInput, match="thickness_mm"):
        ar.validate_scene(missing)
    with pytest.raises(TypeError, match="TriangleMesh"):
        ar.Structure("x", np.zeros((3, 3)))
    bad = ar.Scene(["not a structure"])
    with pytest.raises(TypeError, match="Structure"):
        ar.validate_scene(bad)


def test_obj_merge_and_decimation(tmp_path):
    scene = _scene(heat=True, place_on_origin=False)
    paths = ar.write_obj(scene, str(tmp_path / "m.obj"))
    assert {os.path.basename(p) for p in paths} >= {"m.obj", "m.mtl", "m_colormap.png"}
    vertices = np.array([[float(x) for x in line.split()[1:4]]
                         for line in (tmp_path / "m.obj").read_text().splitlines()
                         if line.startswith("v ")])
    expected = np.vstack([s.mesh.vertices for s in scene.structures]) @ ar.ar_from_lps().T
    np.testing.assert_allclose(vertices, expected, atol=1e-6)
    merged = ar.merge_structures(scene)
    assert merged.num_vertices == sum(s.mesh.num_vertices for s in scene.structures)
    np.testing.assert_array_equal(np.unique(merged.scalars["structure_index"]), [0, 1])
    femur = scene.structures[0].mesh
    small = ar.decimate_for_ar(femur, 100)
    assert small.num_faces <= 100 and "uncertainty_mm" in small.scalars
    assert set(small.scalars["uncertainty_mm"]) <= set(femur.scalars["uncertainty_mm"])
    decimated = ar.decimate_scene(scene, 200)
    assert isinstance(decimated, ar.Scene)
    assert sum(s.mesh.num_faces for s in decimated.structures) <= 200
    assert [s.name for s in decimated.structures] == ["femur_left", "tibia_left"]


def test_export_scene_and_viewer_with_own_assets(tmp_path, monkeypatch):
    assets = tmp_path / "assets"
    shutil.copytree(SOURCE_DIR / "ar_export" / "viewer" / "web", assets)
    (assets / "model-viewer.min.js").write_text("/* stand-in for the npm file */\n")
    monkeypatch.setenv("SSMX_VIEWER_ASSETS", str(assets))
    assert os.path.samefile(ar.find_viewer_assets(), assets)
    scene = _scene(heat=True)
    files = ar.export_scene(scene, glb=str(tmp_path / "a.glb"), stl=str(tmp_path / "a.stl"),
                            ply=str(tmp_path / "a.ply"), viewer_dir=str(tmp_path / "viewer"),
                            target_faces=500)
    formats = {f.format: f for f in files}
    assert {"glb", "stl", "ply", "viewer"} <= set(formats)
    assert formats["glb"].faces <= 500 and formats["glb"].bytes == (tmp_path / "a.glb").stat().st_size
    total = sum(s.mesh.num_faces for s in scene.structures)
    (count,) = struct.unpack_from("<I", (tmp_path / "a.stl").read_bytes(), 80)
    assert count == total  # STL keeps every face
    for name in ("index.html", "model.glb", "model.usdz", "model-viewer.min.js"):
        assert (tmp_path / "viewer" / name).exists()
    written = ar.write_viewer(scene, str(tmp_path / "v2"), assets_dir=str(assets), title="Knee")
    assert any(p.endswith("model.glb") for p in written)
    monkeypatch.setenv("SSMX_VIEWER_ASSETS", str(tmp_path / "nowhere"))
    with pytest.raises(ssmx.IoError):
        ar.write_viewer(scene, str(tmp_path / "v3"), assets_dir=str(tmp_path / "nowhere"))
