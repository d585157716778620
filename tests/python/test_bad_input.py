"""Broken meshes and volumes raise Python exceptions in every function that takes them.

Runs each mesh- or volume-taking function on inputs that are structurally
wrong (indices out of range, negative indices, NaN coordinates, no faces) in a
child interpreter, so that a crash would show up as a failed test with the
function's name rather than take the test run down.
"""

import subprocess
import sys
import textwrap

import pytest

CASES = {
    "out_of_range": "np.array([[0, 1, 2], [0, 1, 99]], np.int32)",
    "negative": "np.array([[0, 1, 2], [0, -5, 1]], np.int32)",
    "no_faces": "np.zeros((0, 3), np.int32)",
}

MESH_CALLS = [
    "ssmx.validate_mesh(m)",
    "ssmx.compute_bounds(ssmx.TriangleMesh(np.zeros((0, 3)), f))",
    "ssmx.ssm.smooth_surface(m, 5, 0.1)",
    "ssmx.ssm.decimate_surface(m, 4)",
    "ssmx.ssm.compute_vertex_normals(m)",
    "ssmx.ssm.orient_outward(m)",
    "ssmx.ssm.split_components(m)",
    "ssmx.ssm.keep_largest_component(m)",
    "ssmx.ssm.SurfaceLocator(m)",
    "ssmx.ssm.compute_surface_distance(m, m)",
    "ssmx.ssm.vertex_areas(m)",
    "ssmx.ssm.voxelize(m, 1.0)",
    "ssmx.ssm.grid_around_mesh(ssmx.TriangleMesh(np.full((3, 3), np.nan), f), 1.0, 1.0)",
    "ssmx.ssm.write_mesh(m, tmp + '/m.ply')",
    "ssmx.drr.project_mesh_path_length(m, geometry)",
    "ssmx.ar_export.decimate_for_ar(m, 4)",
    "ssmx.ar_export.glb_bytes(scene)",
    "ssmx.ar_export.usdz_bytes(scene)",
    "ssmx.ar_export.usda_text(scene)",
    "ssmx.ar_export.merge_structures(scene)",
    "ssmx.ar_export.decimate_scene(scene, 4)",
    "ssmx.ar_export.write_obj(scene, tmp + '/m.obj')",
    "ssmx.ar_export.export_scene(scene, glb=tmp + '/m.glb')",
]

PRELUDE = """
import tempfile
import numpy as np
import ssmx
tmp = tempfile.mkdtemp()
v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], float)
f = {faces}
m = ssmx.TriangleMesh(v, f)
geometry = ssmx.drr.ProjectionGeometry.named("AP", (0, 0, 0), ssmx.drr.CarmGeometry(rows=8, cols=8))
scene = ssmx.ar_export.Scene([ssmx.ar_export.Structure("bone", m)])
"""


def _run(prelude, calls):
    """Runs every call in a child interpreter; returns {call: outcome}."""
    script = textwrap.dedent(prelude) + textwrap.dedent("""
        import sys
        for call in CALLS:
            try:
                eval(call)
                print("RETURNED", call, flush=True)
            except Exception as e:
                print("RAISED", type(e).__name__, call, flush=True)
        print("DONE", flush=True)
    """).replace("CALLS", repr(calls))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert "DONE" in done.stdout, f"the interpreter died (status {done.returncode}) after:\n" \
        f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done.stdout


@pytest.mark.parametrize("case", sorted(CASES))
def test_broken_meshes_raise(case):
    out = _run(PRELUDE.format(faces=CASES[case]), MESH_CALLS)
    returned = [line for line in out.splitlines() if line.startswith("RETURNED")]
    # Documented pass-throughs: writing a mesh file writes what it is given, and
    # decimation returns a mesh that already has few enough faces unchanged.
    passes = ("write_mesh", "decimate_for_ar", "decimate_scene")
    assert [r for r in returned if not any(p in r for p in passes)] == []


VOLUME_CALLS = [
    "ssmx.ssm.write_volume(bad, tmp + '/v.mha')",
    "ssmx.ssm.extract_iso_surface(bad, 0.0)",
    "ssmx.ssm.extract_label_surface(bad, 1)",
    "ssmx.drr.PreparedVolume.from_hounsfield(bad)",
    "ssmx.drr.PreparedVolume.from_mask(bad)",
    "ssmx.drr.PreparedVolume.from_attenuation(bad)",
    "ssmx.drr.PreparedVolumeBuilder(bad.geometry).add_hounsfield_slab(good, 5)",
    "ssmx.ssm.voxelize(ssmx.ssm.make_icosphere(1.0, 1), bad.geometry)",
]

VOLUME_PRELUDE = """
import tempfile
import numpy as np
import ssmx
tmp = tempfile.mkdtemp()
good = ssmx.Volume(np.zeros((2, 3, 4), np.float32))
bad = ssmx.Volume(np.zeros((2, 3, 4), np.float32))
bad.geometry.direction = [[1, 0, 0], [1, 0, 0], [0, 0, 1]]   # not orthonormal
"""


def test_broken_volume_geometries_raise():
    out = _run(VOLUME_PRELUDE, VOLUME_CALLS)
    assert [line for line in out.splitlines() if line.startswith("RETURNED")] == []
