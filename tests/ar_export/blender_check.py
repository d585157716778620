"""Imports our GLB (and OBJ) into Blender and prints the dimensions it sees.
Run as: blender -b --factory-startup --python blender_check.py -- FILE.glb|FILE.obj EXPECT.json
EXPECT.json: {"extent_lps_mm": [x, y, z], "structures": [names]}. Blender is
Z-up: its importers turn glTF's +Y up into +Z, so the LPS extent (x, y, z)
must come out as Blender (x, y, z) = 0.001 * (x, y, z) in metres (with
Blender's -Y forward = glTF +Z = anterior = -y_lps). Prints "N passed, N
failed" and exits 1 on failure."""
import json
import sys

import bpy
import numpy
from mathutils import Vector

# Debian 12's Blender 3.4 glTF importer still uses numpy's np.bool alias, which
# Debian's numpy 1.24 removed; restore the alias for the importer.
if not hasattr(numpy, "bool"):
    numpy.bool = bool

args = sys.argv[sys.argv.index("--") + 1:]
path, expect = args[0], json.load(open(args[1]))
bpy.ops.wm.read_factory_settings(use_empty=True)
if path.endswith(".glb"):
    bpy.ops.import_scene.gltf(filepath=path)
else:
    bpy.ops.import_scene.obj(filepath=path)  # Blender 3.4: forward -Z, up Y by default
meshes = [o for o in bpy.context.scene.objects if o.type == "MESH"]
lo = Vector((1e9, 1e9, 1e9))
hi = -lo
for o in meshes:
    for corner in o.bound_box:
        w = o.matrix_world @ Vector(corner)
        lo = Vector(map(min, lo, w))
        hi = Vector(map(max, hi, w))
size = hi - lo
want = [v / 1000 for v in expect["extent_lps_mm"]]
passed = failed = 0


def check(ok, what, detail=""):
    global passed, failed
    passed, failed = passed + ok, failed + (not ok)
    print(("ok   " if ok else "FAIL ") + what + (": " + detail if detail else ""))


err = max(abs(a - b) for a, b in zip(size, want))
check(err < 2e-4, "Blender sees the LPS extent in metres", f"{tuple(round(v, 4) for v in size)} vs {want}")
names = sorted(o.name for o in meshes)
check(names == sorted(expect["structures"]), "object names are the structure names", str(names))
check(abs(lo.z) < 1e-5, "the model stands on the ground (min Z = 0)", f"min z {lo.z:.6f}")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
