"""ssmx.drr: geometry, sidecars, projectors, detector model and X-ray IO.

Expected values come from docs/geometry.md (hand-computed), closed-form chord
lengths computed here in numpy, and files parsed without ssmx.
"""

import gc
import json
import threading

import numpy as np
import pytest

import ssmx
from conftest import box_mesh, read_metaimage

drr = ssmx.drr

# docs/geometry.md section 5: SID 1000, SAD 700, 512 x 512 at 0.5 mm, isocentre 0.
AP_P = np.array([[2000, 255.5, 0, 178850], [0, 255.5, -2000, 178850], [0, 1, 0, 700]], float)
LAT_P = np.array([[255.5, -2000, 0, 178850], [255.5, 0, -2000, 178850], [1, 0, 0, 700]], float)


def _detector(rows=512, cols=512, spacing=0.5):
    return drr.CarmGeometry(rows=rows, cols=cols, pixel_spacing_u_mm=spacing,
                            pixel_spacing_v_mm=spacing)


def _pixel_rays(view, isocenter, sid, sad, rows, cols, du, dv):
    """Source and unit ray directions of every pixel, from the C-arm formulas (numpy)."""
    rotation = {"AP": np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], float),
                "LAT": np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]], float)}[view]
    e_u, e_v, d = rotation[:, 0], rotation[:, 1], rotation[:, 2]
    source = np.asarray(isocenter, float) - sad * d
    u0, v0 = (cols - 1) / 2, (rows - 1) / 2
    v, u = np.mgrid[0:rows, 0:cols]
    points = (source + sid * d + ((u - u0) * du)[..., None] * e_u
              + ((v - v0) * dv)[..., None] * e_v)
    directions = points - source
    return source, directions / np.linalg.norm(directions, axis=-1, keepdims=True)


# ---- Geometry ---------------------------------------------------------------------------

def test_named_views_reproduce_the_hand_computed_matrices():
    ap = drr.ProjectionGeometry.named("AP", (0, 0, 0), _detector())
    lat = drr.ProjectionGeometry.named("lat", (0, 0, 0), _detector())
    np.testing.assert_allclose(ap.matrix, AP_P, atol=1e-9)
    np.testing.assert_allclose(lat.matrix, LAT_P, atol=1e-9)
    np.testing.assert_allclose(drr.named_view_rotation("AP"), [[1, 0, 0], [0, 0, 1], [0, -1, 0]])
    uv, depth = ap.project((10, 0, 0))
    np.testing.assert_allclose(uv, [255.5 + 2000 * 10 / 700, 255.5])
    assert depth == pytest.approx(700)
    uv, depth = ap.project(np.array([[0, 0, 20], [10, 100, 0]], float))
    np.testing.assert_allclose(uv, [[255.5, 255.5 - 2000 * 20 / 700], [280.5, 255.5]])
    np.testing.assert_allclose(depth, [700, 800])
    np.testing.assert_allclose(ap.source_position(), [0, -700, 0])
    np.testing.assert_allclose(ap.beam_direction(), [0, 1, 0])
    np.testing.assert_allclose(ap.detector_point(0, 0), [-127.75, 300, 127.75])
    np.testing.assert_allclose(ap.ray_direction(255.5, 255.5), [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(ap.intrinsics(), [[2000, 0, 255.5], [0, 2000, 255.5], [0, 0, 1]])
    assert ap.source_to_detector_mm == pytest.approx(1000) and ap.rows == 512
    uv, _ = lat.project((0, -10, 0))
    assert uv[0] == pytest.approx(255.5 + 2000 * 10 / 700)  # anterior lands right


def test_matrix_round_trips_and_refusals():
    p = drr.ProjectionGeometry.from_matrix(3.0 * AP_P, 512, 512, 0.5, 0.5, 700)
    np.testing.assert_allclose(p.matrix, AP_P, atol=1e-9)  # rescaled to a unit third row
    carm = p.to_carm()
    assert carm.source_to_detector_mm == pytest.approx(1000)
    np.testing.assert_allclose(carm.principal_point(), [255.5, 255.5])
    again = drr.ProjectionGeometry.from_carm(carm)
    np.testing.assert_allclose(again.matrix, AP_P, atol=1e-9)
    mirrored = AP_P.copy()
    mirrored[0] *= -1
    with pytest.raises(ssmx.InvalidInput, match="mirror"):
        drr.ProjectionGeometry.from_matrix(mirrored, 512, 512, 0.5, 0.5, 700)
    with pytest.raises(ssmx.InvalidInput):
        drr.ProjectionGeometry.from_carm(drr.CarmGeometry(rows=0))
    assert "rows" in drr.CarmGeometry(rows=-1).validate()
    assert np.isnan(drr.CarmGeometry().principal_point_px).all()
    with pytest.raises(ssmx.InvalidInput):
        drr.named_view_rotation("PA")
    np.testing.assert_allclose(
        drr.default_isocenter(ssmx.VolumeGeometry(size=(3, 3, 3), origin_mm=(1, 1, 1))), [2, 2, 2])


def test_sidecar_json_read_by_the_json_module(tmp_path):
    geometry = drr.ProjectionGeometry.named("AP", (0, 0, 0), _detector())
    sidecar = drr.Sidecar(geometry, "line_integral", "AP", mu_water_per_mm=0.02059,
                          png_window=(0.0, 8.0))
    document = json.loads(drr.sidecar_to_json(sidecar))
    np.testing.assert_allclose(document["projection_matrix"], AP_P, atol=1e-9)
    np.testing.assert_allclose(document["source_position_mm"], [0, -700, 0], atol=1e-9)
    assert document["quantity"] == "line_integral" and document["png_window"] == [0, 8]
    assert (document["rows"], document["cols"]) == (512, 512)
    path = str(tmp_path / "ap.json")
    drr.write_sidecar(sidecar, path)
    back = drr.read_sidecar(path)
    np.testing.assert_allclose(back.geometry.matrix, AP_P, atol=1e-9)
    assert back.quantity == "line_integral" and back.png_window == (0.0, 8.0)
    assert back.view == "AP" and back.i0 is None
    document["source_position_mm"] = [0, -650, 0]
    with pytest.raises(ssmx.InvalidInput, match="source_position_mm"):
        drr.sidecar_from_json(json.dumps(document), "tampered.json")
    with pytest.raises(ssmx.IoError):
        drr.read_sidecar(str(tmp_path / "none.json"))
    assert drr.sidecar_path("views/ap.nii.gz") == "views/ap.json"


# ---- Prepared volumes --------------------------------------------------------------------

def test_prepared_volumes_follow_the_hu_formula():
    hu = np.zeros((4, 5, 6), np.int16) - 1000
    hu[1:3, 2:4, 1:5] = np.array([0, 400, 1000, -200], np.int16)
    ct = ssmx.Volume(hu)
    prepared = drr.PreparedVolume.from_hounsfield(ct)
    expected = (0.02059 * np.maximum(0, 1 + hu / 1000.0)).astype(np.float32)
    np.testing.assert_allclose(prepared.mu, expected, rtol=1e-6)
    np.testing.assert_allclose(drr.attenuation_from_hounsfield(hu), expected, rtol=1e-6)
    assert drr.DEFAULT_MU_WATER_PER_MM == 0.02059
    np.testing.assert_array_equal(prepared.nonzero_min, [1, 2, 1])  # (i, j, k)
    np.testing.assert_array_equal(prepared.nonzero_max, [4, 3, 2])
    assert prepared.size_bytes == 4 * hu.size and not prepared.empty
    mask = ssmx.Volume(np.zeros_like(hu))
    mask.array[1, 2, 1:3] = 1
    masked = drr.PreparedVolume.from_hounsfield_masked(ct, mask, 0.03)
    np.testing.assert_allclose(masked.mu, 0.03 * np.maximum(0, 1 + hu / 1000.0) * mask.array,
                               rtol=1e-6)
    np.testing.assert_array_equal(drr.PreparedVolume.from_mask(ct).mu, (hu != 0).astype(np.float32))
    mu = ssmx.Volume(np.full((2, 2, 2), 0.5, np.float32))
    assert drr.PreparedVolume.from_attenuation(mu).mu.max() == 0.5
    with pytest.raises(ssmx.InvalidInput):
        drr.PreparedVolume.from_attenuation(ssmx.Volume(np.full((2, 2, 2), -1, np.float32)))
    other = ssmx.Volume(np.zeros((4, 5, 7), np.int16))
    with pytest.raises(ssmx.InvalidInput, match="grid"):
        drr.PreparedVolume.from_hounsfield_masked(ct, other)
    # The empty-space map: one 8^3 block per entry, 1 where a voxel is non-zero.
    sparse = np.zeros((20, 20, 20), np.float32)
    sparse[17, 3, 10] = 0.5  # (k, j, i)
    blocks = drr.PreparedVolume.from_attenuation(ssmx.Volume(sparse))
    assert drr.PreparedVolume.BLOCK_SIZE == 8
    np.testing.assert_array_equal(blocks.block_counts(), [3, 3, 3])
    expected_blocks = np.zeros((3, 3, 3), np.uint8)
    expected_blocks[17 // 8, 3 // 8, 10 // 8] = 1
    np.testing.assert_array_equal(blocks.nonzero_blocks, expected_blocks)
    assert blocks.nonzero_blocks.base is blocks
    # The attenuation array is a read-only view that keeps the prepared volume alive.
    view = prepared.mu
    assert view.base is not None and not view.flags.writeable and not view.flags.owndata
    del prepared
    gc.collect()
    np.testing.assert_allclose(view, expected, rtol=1e-6)


def test_builder_and_streaming_reader_agree_with_the_whole_volume(tmp_path):
    hu = np.random.default_rng(8).integers(-1000, 2000, (9, 6, 7)).astype(np.int16)
    geometry = ssmx.VolumeGeometry(size=(7, 6, 9), spacing_mm=(1, 1, 2))
    ct = ssmx.Volume(hu, geometry)
    whole = drr.PreparedVolume.from_hounsfield(ct)
    builder = drr.PreparedVolumeBuilder(geometry)
    for k in (6, 0, 3):  # any order
        slab = ssmx.Volume(np.ascontiguousarray(hu[k:k + 3]),
                           ssmx.VolumeGeometry(size=(7, 6, 3), spacing_mm=(1, 1, 2)))
        builder.add_hounsfield_slab(slab, k)
    np.testing.assert_array_equal(builder.finish().mu, whole.mu)
    with pytest.raises(ssmx.InvalidInput, match="twice"):
        builder.finish()
    incomplete = drr.PreparedVolumeBuilder(geometry)
    with pytest.raises(ssmx.InvalidInput, match="slice 0"):
        incomplete.finish()
    ssmx.ssm.write_volume(ct, str(tmp_path / "ct.mha"))
    streamed = drr.PreparedVolume.read_hounsfield(str(tmp_path / "ct.mha"))
    np.testing.assert_array_equal(streamed.mu, whole.mu)
    with pytest.raises(ssmx.IoError):
        drr.PreparedVolume.read_hounsfield(str(tmp_path / "none.nii.gz"))


# ---- Projection against closed forms -------------------------------------------------------

def _ball_mu(radius, mu, spacing=1.0, n=48, sub=3):
    """Partial-volume ball (fraction of each voxel inside, by sub^3 samples), centred at 0."""
    centres = (np.arange(n) - (n - 1) / 2) * spacing
    offsets = ((np.arange(sub) + 0.5) / sub - 0.5) * spacing
    fine = (centres[:, None] + offsets[None, :]).ravel()
    z, y, x = np.meshgrid(fine, fine, fine, indexing="ij", sparse=True)
    inside = (x * x + y * y + z * z <= radius * radius).astype(np.float32)
    fraction = inside.reshape(n, sub, n, sub, n, sub).mean(axis=(1, 3, 5))
    geometry = ssmx.VolumeGeometry(size=(n, n, n), spacing_mm=[spacing] * 3,
                                   origin_mm=[centres[0]] * 3)
    return ssmx.Volume(np.ascontiguousarray(mu * fraction, dtype=np.float32), geometry)


# Voxelising the ball costs accuracy: piecewise-constant voxels (exact projector) follow
# the staircase more closely than trilinear samples do.
@pytest.mark.parametrize("projector,max_error,mean_error",
                         [("exact", 0.025, 0.006), ("trilinear", 0.01, 0.002)])
def test_drr_of_a_ball_equals_mu_times_the_chord(projector, max_error, mean_error):
    radius, mu = 20.0, 0.02
    prepared = drr.PreparedVolume.from_attenuation(_ball_mu(radius, mu))
    rows = cols = 64
    detector = drr.CarmGeometry(rows=rows, cols=cols, pixel_spacing_u_mm=1.0,
                                pixel_spacing_v_mm=1.0, source_to_detector_mm=1000,
                                source_to_isocenter_mm=600)
    geometry = drr.ProjectionGeometry.named("AP", (0, 0, 0), detector)
    image = drr.project(prepared, geometry, projector=projector)
    assert image.quantity == "line_integral" and image.pixels.shape == (rows, cols)
    source, directions = _pixel_rays("AP", (0, 0, 0), 1000, 600, rows, cols, 1.0, 1.0)
    miss = np.linalg.norm(np.cross(-source, directions), axis=-1)  # ray distance to the centre
    chord = 2 * np.sqrt(np.maximum(radius ** 2 - miss ** 2, 0))
    central = miss < 0.7 * radius
    assert central.sum() > 500
    error = np.abs(image.pixels[central] / (mu * chord[central]) - 1)
    assert error.max() < max_error and error.mean() < mean_error
    assert np.all(image.pixels[miss > radius + 1.5] == 0)


def test_drr_outputs_are_views_that_outlive_their_producers():
    prepared = drr.PreparedVolume.from_attenuation(_ball_mu(10.0, 0.02, n=24, sub=1))
    geometry = drr.ProjectionGeometry.named("LAT", (0, 0, 0), _detector(32, 32, 1.0))
    image = drr.project(prepared, geometry, threads=1)
    pixels = image.pixels
    assert not pixels.flags.owndata and type(pixels.base).__name__ == "PyCapsule"
    assert pixels.flags.c_contiguous and pixels.dtype == np.float32
    assert image.pixels is pixels  # the holder hands out the same view
    expected = pixels.copy()
    del image, prepared
    gc.collect()
    np.testing.assert_array_equal(pixels, expected)
    assert pixels.max() > 0.3


def test_projection_releases_the_gil_and_is_thread_safe():
    prepared = drr.PreparedVolume.from_attenuation(_ball_mu(20.0, 0.02, n=48, sub=1))
    geometry = drr.ProjectionGeometry.named("AP", (0, 0, 0), _detector(160, 160, 0.5))
    serial = drr.project(prepared, geometry, projector="trilinear", step_voxels=0.05, threads=1)
    results = [None, None]

    def work(slot):
        results[slot] = drr.project(prepared, geometry, projector="trilinear",
                                    step_voxels=0.05, threads=1).pixels

    counter = [0]
    done = threading.Event()

    def count():
        while not done.is_set():
            counter[0] += 1

    workers = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    ticker = threading.Thread(target=count)
    ticker.start()
    for w in workers:
        w.start()
    before = counter[0]
    for w in workers:
        w.join()
    during = counter[0] - before
    done.set()
    ticker.join()
    for r in results:
        np.testing.assert_array_equal(r, serial.pixels)
    # Python code kept running while both projections ran in C++.
    assert during > 1000


def test_orientation_markers_land_where_docs_geometry_md_says():
    # A dense marker on the patient's left (+x) and superior (+z): right of and above the
    # centre in AP. An anterior marker (-y): right of the centre in LAT.
    hu = np.full((40, 40, 40), -1000, np.int16)
    geometry = ssmx.VolumeGeometry(size=(40, 40, 40), origin_mm=(-19.5, -19.5, -19.5))
    ct = ssmx.Volume(hu, geometry)
    i, j, k = np.round(geometry.world_to_index((10, 0, 12))).astype(int)
    hu[k - 1:k + 2, j - 1:j + 2, i - 1:i + 2] = 2000
    i, j, k = np.round(geometry.world_to_index((0, -12, 0))).astype(int)
    hu[k - 1:k + 2, j - 1:j + 2, i - 1:i + 2] = 2000
    prepared = drr.PreparedVolume.from_hounsfield(ct)
    ap = drr.project(prepared, drr.ProjectionGeometry.named("AP", (0, 0, 0), _detector(128, 128)))
    v, u = np.unravel_index(np.argmax(ap.pixels[:, 64:]), (128, 64))
    assert u + 64 > 63.5 and v < 63.5
    lat_geometry = drr.ProjectionGeometry.named("LAT", (0, 0, 0), _detector(128, 128))
    lat = drr.project(prepared, lat_geometry)
    row = lat.pixels[64]
    assert np.argmax(row) > 63.5


def test_integrate_segment_through_a_box():
    mu = np.zeros((20, 20, 20), np.float32)
    mu[5:15, 5:15, 5:15] = 0.1  # voxel centres 5..14: the box spans 4.5..14.5 mm
    prepared = drr.PreparedVolume.from_attenuation(ssmx.Volume(mu))
    value = drr.integrate_segment(prepared, (-10, 9.7, 9.3), (30, 9.7, 9.3))
    assert value == pytest.approx(0.1 * 10.0, rel=1e-5)
    value = drr.integrate_segment(prepared, (9.7, 9.3, -10), (9.7, 9.3, 30), projector="trilinear",
                                  step_voxels=0.1)
    assert value == pytest.approx(1.0, rel=0.02)
    with pytest.raises(ssmx.InvalidInput):
        drr.integrate_segment(prepared, (0, 0, 0), (1, 1, 1), projector="siddon")
    assert drr.projector_kinds() == ["exact", "trilinear"]


def test_mesh_path_length_equals_ray_box_intersections():
    lo, hi = np.array([-15.0, -10.0, -20.0]), np.array([12.0, 8.0, 25.0])
    mesh = ssmx.TriangleMesh(*box_mesh(lo, hi))
    rows, cols = 48, 40
    detector = drr.CarmGeometry(rows=rows, cols=cols, pixel_spacing_u_mm=1.5,
                                pixel_spacing_v_mm=1.5)
    geometry = drr.ProjectionGeometry.named("LAT", (2, 1, 0), detector)
    image = drr.project_mesh_path_length(mesh, geometry, threads=2)
    assert image.quantity == "path_length_mm"
    source, directions = _pixel_rays("LAT", (2, 1, 0), 1000, 700, rows, cols, 1.5, 1.5)
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (lo - source) / directions
        t2 = (hi - source) / directions
    t_near = np.nanmax(np.minimum(t1, t2), axis=-1)
    t_far = np.nanmin(np.maximum(t1, t2), axis=-1)
    truth = np.maximum(t_far - t_near, 0)
    np.testing.assert_allclose(image.pixels, truth, rtol=1e-5, atol=1e-4)
    open_mesh = ssmx.TriangleMesh(mesh.vertices, np.ascontiguousarray(mesh.faces[:10]))
    with pytest.raises(ssmx.InvalidInput, match="watertight"):
        drr.project_mesh_path_length(open_mesh, geometry)


# ---- Detector ---------------------------------------------------------------------------

def test_detector_model_against_numpy():
    line = np.linspace(0, 6, 64 * 64, dtype=np.float32).reshape(64, 64)
    image = ssmx.Image2D(line, "line_integral")
    intensity = drr.intensity_from_line_integral(image, 1e4)
    assert intensity.quantity == "intensity"
    np.testing.assert_allclose(intensity.pixels, 1e4 * np.exp(-line.astype(np.float64)), rtol=1e-5)
    back = drr.line_integral_from_intensity(intensity, 1e4)
    np.testing.assert_allclose(back.pixels, line, atol=1e-4)
    zero = ssmx.Image2D(np.zeros((1, 1), np.float32), "intensity")
    assert drr.line_integral_from_intensity(zero, 100).pixels[0, 0] == pytest.approx(
        -np.log(0.5 / 100), rel=1e-6)
    noisy = drr.intensity_from_line_integral(image, 1e4, noise_seed=7)
    again = drr.intensity_from_line_integral(image, 1e4, noise_seed=7)
    other = drr.intensity_from_line_integral(image, 1e4, noise_seed=8)
    np.testing.assert_array_equal(noisy.pixels, again.pixels)
    assert not np.array_equal(noisy.pixels, other.pixels)
    assert np.all(noisy.pixels == np.round(noisy.pixels))  # counts
    flat = ssmx.Image2D(np.full((100, 100), 1.0, np.float32), "line_integral")
    counts = drr.intensity_from_line_integral(flat, 1000, noise_seed=1).pixels
    mean = 1000 * np.exp(-1.0)
    assert abs(counts.mean() - mean) < 4 * np.sqrt(mean / counts.size)
    assert counts.var() == pytest.approx(mean, rel=0.1)
    with pytest.raises(ssmx.InvalidInput):
        drr.intensity_from_line_integral(intensity, 1e4)  # not a line integral
    mask = drr.mask_from_path_length(ssmx.Image2D(line, "path_length_mm"), 3.0)
    np.testing.assert_array_equal(mask.pixels, (line > 3.0).astype(np.float32))
    draws = np.array([drr.poisson_draw(4.5, 3, i) for i in range(20000)])
    assert abs(draws.mean() - 4.5) < 4 * np.sqrt(4.5 / draws.size)
    assert drr.poisson_draw(4.5, 3, 17) == drr.poisson_draw(4.5, 3, 17)


# ---- X-ray image files ---------------------------------------------------------------------

def test_xray_image_files_round_trip(tmp_path):
    rng = np.random.default_rng(9)
    pixels = rng.uniform(0, 5, (24, 32)).astype(np.float32)
    image = ssmx.Image2D(pixels, "line_integral", 0.5, 0.5)
    geometry = drr.ProjectionGeometry.named("AP", (0, 0, 0), _detector(24, 32))
    sidecar = drr.Sidecar(geometry, view="AP", mu_water_per_mm=0.02059, projector="exact")
    drr.write_xray_image(image, sidecar, str(tmp_path / "ap.mha"))
    array, header = read_metaimage(tmp_path / "ap.mha")
    np.testing.assert_array_equal(array.reshape(24, 32), pixels)
    document = json.loads((tmp_path / "ap.json").read_text())
    assert document["quantity"] == "line_integral" and document["rows"] == 24
    read = drr.read_xray_image(str(tmp_path / "ap.mha"))
    np.testing.assert_array_equal(read.image.pixels, pixels)
    np.testing.assert_allclose(read.sidecar.geometry.matrix, geometry.matrix, atol=1e-9)
    assert type(read.image.pixels.base).__name__ == "PyCapsule"
    drr.write_xray_image(image, sidecar, str(tmp_path / "ap.tif"))
    np.testing.assert_array_equal(drr.read_xray_image(str(tmp_path / "ap.tif")).image.pixels,
                                  pixels)
    window = drr.default_png_window(image)
    assert window == (0.0, 5.0)
    drr.write_xray_image(image, sidecar, str(tmp_path / "ap.png"))
    png = drr.read_xray_image(str(tmp_path / "ap.png"))
    assert png.sidecar.png_window == (0.0, 5.0)
    np.testing.assert_allclose(png.image.pixels, pixels, atol=5.0 / 65535)
    with pytest.raises(ssmx.InvalidInput, match="32x24"):
        drr.write_xray_image(ssmx.Image2D(pixels.T.copy()), sidecar, str(tmp_path / "bad.mha"))
    with pytest.raises(ssmx.InvalidInput):
        drr.write_xray_image(image, sidecar, str(tmp_path / "ap.jpg"))
    (tmp_path / "alone.tif").write_bytes((tmp_path / "ap.tif").read_bytes())
    with pytest.raises(ssmx.IoError):
        drr.read_xray_image(str(tmp_path / "alone.tif"))  # no sidecar
    with pytest.raises(ssmx.IoError):
        drr.read_xray_image(str(tmp_path / "none.png"))


# ---- Real CT -----------------------------------------------------------------------------

def test_real_ct_drr_matches_numpy_ray_marching(data):
    path = str(data / "ct" / "totalseg_abdomen" / "example_ct.nii.gz")
    ct = ssmx.ssm.read_volume(path).volume
    prepared = drr.PreparedVolume.from_hounsfield(ct)
    geometry = drr.ProjectionGeometry.named("AP", ct.geometry.center(), _detector(96, 96, 3.0))
    image = drr.project(prepared, geometry)
    mu = np.ascontiguousarray(prepared.mu, dtype=np.float64)
    index_from_world = ct.geometry.index_from_world()
    source = geometry.source_position()
    for u, v in [(48, 48), (30, 60), (70, 20)]:
        target = geometry.detector_point(u, v)
        steps = np.linspace(0, 1, 40001)
        points = source + steps[:, None] * (target - source)
        ijk = points @ index_from_world[:3, :3].T + index_from_world[:3, 3]
        idx = np.round(ijk).astype(int)
        inside = np.all((idx >= 0) & (idx < np.array(ct.geometry.size)), axis=1)
        values = np.zeros(len(points))
        values[inside] = mu[idx[inside, 2], idx[inside, 1], idx[inside, 0]]
        integral = np.trapz(values, dx=np.linalg.norm(target - source) / 40000)
        assert image.pixels[v, u] == pytest.approx(integral, rel=0.01)
