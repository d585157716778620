"""Independent checks of files written by `ssmx export`, with Python's zipfile,
struct, json and numpy only (nothing from ssmx).

usage:
  check_files.py usdz FILE.usdz INPUT.ply [INPUT.ply...]   zip layout + usda content
  check_files.py glb FILE.glb INPUT.ply [INPUT.ply...]     GLB content vs the input meshes
  check_files.py obj FILE.obj INPUT.ply [INPUT.ply...]     OBJ + MTL vs the input meshes
Options (after the files): --heat SCALAR (COLOR_0 / texture coordinates are
checked against matplotlib's viridis when matplotlib is installed).

The truth is the input PLY read here and the conversion of docs/geometry.md
section 8: (X, Y, Z) = 0.001 * (x, z, -y). Prints "N passed, N failed".
"""
import json
import re
import struct
import sys
import zipfile

import numpy as np

from make_inputs import read_ply

passed = failed = 0


def check(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
    print(("ok   " if ok else "FAIL ") + what + (": " + detail if detail else ""))


def read_ply_scalars(path):
    """The input PLY's vertices (N x 3, LPS mm), faces and float scalars."""
    with open(path, "rb") as f:
        data = f.read()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    props = []
    nv = 0
    for line in data[:end].decode().splitlines():
        w = line.split()
        if w[:2] == ["element", "vertex"]:
            nv = int(w[2])
        if w and w[0] == "property" and w[1] != "list":
            props.append((w[2], {"double": "<f8", "float": "<f4"}[w[1]]))
    v = np.frombuffer(data, np.dtype(props), nv, end)
    xyz, faces = read_ply(path)
    scalars = {n: v[n].astype(np.float64) for n, _ in props if n not in ("x", "y", "z", "nx", "ny", "nz")}
    return xyz, faces, scalars


def to_ar(xyz_lps_mm):
    """docs/geometry.md section 8, written out here independently."""
    x, y, z = xyz_lps_mm[:, 0], xyz_lps_mm[:, 1], xyz_lps_mm[:, 2]
    return 0.001 * np.stack([x, z, -y], axis=1)


def viridis_linear(t):
    try:
        from matplotlib import cm
    except ImportError:
        return None
    srgb = np.array([cm.viridis(int(round(v * 255)))[:3] for v in t])
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def check_usdz(path, inputs, heat):
    raw = open(path, "rb").read()
    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
        check(z.testzip() is None, "zip CRCs are valid")
        names = [i.filename for i in infos]
        check(names[0] == "model.usda", "first entry is the usda layer", str(names))
        check(all(i.compress_type == zipfile.ZIP_STORED for i in infos), "every entry stored uncompressed")
        check(all(i.flag_bits & 0x8 == 0 for i in infos), "no data descriptors")
        offsets = []
        for i in infos:
            # Local header: 30 bytes + name + extra, then the data.
            sig, = struct.unpack_from("<I", raw, i.header_offset)
            n, m = struct.unpack_from("<HH", raw, i.header_offset + 26)
            offsets.append(i.header_offset + 30 + n + m)
            check(sig == 0x04034B50, f"{i.filename}: local header signature")
        check(all(o % 64 == 0 for o in offsets), "every data offset is a multiple of 64", str(offsets))
        check(("textures/colormap.png" in names) == bool(heat), "colormap texture present exactly with a heat map",
              str(names))
        usda = z.read("model.usda").decode()
        if heat:
            png = z.read("textures/colormap.png")
            check(png[:8] == b"\x89PNG\r\n\x1a\n", "texture is a PNG")
            w, h = struct.unpack(">II", png[16:24])
            check((w, h) == (256, 4), "texture is 256 x 4", f"{w} x {h}")
    check_usda(usda, inputs, heat)


def usda_array(text, decl):
    m = re.search(re.escape(decl) + r" = \[(.*?)\]", text, re.S)
    if not m:
        return None
    body = m.group(1).replace("(", " ").replace(")", " ").replace(",", " ")
    return np.array(body.split(), dtype=np.float64)


def check_usda(text, inputs, heat):
    check(text.startswith("#usda 1.0\n"), "usda header")
    head = text[: text.index("def ")]
    check('defaultPrim = "Model"' in head and "metersPerUnit = 1" in head and 'upAxis = "Y"' in head,
          "layer metadata: defaultPrim, metersPerUnit = 1, upAxis = Y")
    check(re.search(r'^def Xform "Model"', text, re.M) is not None, "the default prim exists")
    check(text.count("{") == text.count("}") and text.count("[") == text.count("]"), "balanced braces and brackets")
    meshes = re.split(r'\n    def Mesh "', text)[1:]
    check(len(meshes) == len(inputs), "one Mesh per input", f"{len(meshes)} vs {len(inputs)}")
    translate = re.search(r"double3 xformOp:translate = \(([^)]*)\)", text)
    offset = np.array([float(v) for v in translate.group(1).split(",")]) if translate else np.zeros(3)
    all_points = []
    for body, path in zip(meshes, inputs):
        name = body[: body.index('"')]
        xyz, faces, scalars = read_ply_scalars(path)
        points = usda_array(body, "point3f[] points").reshape(-1, 3)
        counts = usda_array(body, "int[] faceVertexCounts")
        indices = usda_array(body, "int[] faceVertexIndices").astype(np.int64)
        normals = usda_array(body, "normal3f[] normals").reshape(-1, 3)
        extent = usda_array(body, "float3[] extent").reshape(2, 3)
        check(len(points) == len(xyz) and (counts == 3).all() and len(indices) == 3 * len(faces),
              f"{name}: points, triangles and indices match the input")
        check(np.abs(points - to_ar(xyz)).max() < 1e-6, f"{name}: points = 0.001 (x, z, -y) of the input",
              f"max error {np.abs(points - to_ar(xyz)).max():.2e} m")
        check((indices.reshape(-1, 3) == faces).all(), f"{name}: faces keep the input's order and winding")
        check(np.allclose(extent[0], points.min(0)) and np.allclose(extent[1], points.max(0)), f"{name}: extent")
        check(len(normals) == len(points) and np.allclose(np.linalg.norm(normals, axis=1), 1, atol=1e-5),
              f"{name}: unit vertex normals")
        # Outward: the triangles enclose a positive volume (divergence theorem)
        # and the vertex normals are the area-weighted face normals computed here.
        tri = points[indices.reshape(-1, 3)]
        volume = np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6
        fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        vn = np.zeros_like(points)
        for k in range(3):
            np.add.at(vn, indices.reshape(-1, 3)[:, k], fn)
        vn /= np.linalg.norm(vn, axis=1)[:, None]
        check(volume > 0 and np.abs(vn - normals).max() < 1e-3, f"{name}: outward winding and normals",
              f"volume {volume * 1e9:.0f} mm^3, max normal difference {np.abs(vn - normals).max():.1e}")
        check('subdivisionScheme = "none"' in body and "rel material:binding = </Model/Materials/" in body,
              f"{name}: subdivisionScheme none and a bound material")
        if heat:
            st = usda_array(body, "texCoord2f[] primvars:st").reshape(-1, 2)
            s = scalars[heat]
            t = (s - s.min()) / (s.max() - s.min())
            check(np.abs(st[:, 0] - (0.5 + 255 * t) / 256).max() < 1e-5 and (st[:, 1] == 0.5).all(),
                  f"{name}: st = ((0.5 + 255 t) / 256, 0.5) of the normalised scalar")
        all_points.append(points)
    allp = np.concatenate(all_points) + offset
    check(abs(allp[:, 1].min()) < 1e-6 and abs(allp[:, 0].min() + allp[:, 0].max()) < 1e-6,
          "root translation stands the model on the origin (min Y = 0, centred in X and Z)")
    for block in re.findall(r'def Material "(\w+)"(.*?)\n        }', text, re.S):
        check('info:id = "UsdPreviewSurface"' in block[1], f"material {block[0]}: UsdPreviewSurface")


def glb_chunks(path):
    raw = open(path, "rb").read()
    magic, version, length = struct.unpack_from("<4sII", raw, 0)
    check(magic == b"glTF" and version == 2 and length == len(raw), "GLB header")
    n, kind = struct.unpack_from("<I4s", raw, 12)
    gltf = json.loads(raw[20:20 + n])
    m, kind2 = struct.unpack_from("<I4s", raw, 20 + n)
    return gltf, raw[28 + n:28 + n + m]


def accessor(gltf, binary, index):
    a = gltf["accessors"][index]
    view = gltf["bufferViews"][a["bufferView"]]
    dtype = {5126: "<f4", 5125: "<u4", 5123: "<u2"}[a["componentType"]]
    width = {"SCALAR": 1, "VEC3": 3, "VEC4": 4}[a["type"]]
    start = view.get("byteOffset", 0) + a.get("byteOffset", 0)
    return np.frombuffer(binary, dtype, a["count"] * width, start).reshape(a["count"], width), a


def check_glb(path, inputs, heat):
    gltf, binary = glb_chunks(path)
    meta = gltf["asset"].get("extras", {}).get("ssmx", {})
    allowed = {"generator", "version", "units", "frame", "ar_from_lps_mm", "root_translation_m", "extent_mm",
               "structures", "heat_map"}
    check(set(meta) <= allowed and meta.get("units") == "m", "asset.extras.ssmx holds only technical metadata",
          str(sorted(meta)))
    check(len(gltf["meshes"]) == len(inputs) == len(gltf["materials"]), "one mesh and material per input")
    for mesh, path in zip(gltf["meshes"], inputs):
        xyz, faces, scalars = read_ply_scalars(path)
        prim = mesh["primitives"][0]
        pos, a = accessor(gltf, binary, prim["attributes"]["POSITION"])
        idx, _ = accessor(gltf, binary, prim["indices"])
        check(np.abs(pos - to_ar(xyz)).max() < 1e-6, f"{mesh['name']}: POSITION = 0.001 (x, z, -y) of the input")
        check((idx.reshape(-1, 3) == faces).all(), f"{mesh['name']}: indices keep the faces and winding")
        check(a["min"] == pos.min(0).tolist() and a["max"] == pos.max(0).tolist(), f"{mesh['name']}: exact min/max")
        if heat:
            colors, _ = accessor(gltf, binary, prim["attributes"]["COLOR_0"])
            s = scalars[heat]
            t = (s - s.min()) / (s.max() - s.min())
            want = viridis_linear(t)
            if want is None:
                print("skip COLOR_0 vs matplotlib: matplotlib is not installed")
            else:
                # Our colormap interpolates between entries, matplotlib picks the
                # nearest: they differ by at most half a step of the table.
                err = np.abs(colors - want).max()
                check(err < 0.02, f"{mesh['name']}: COLOR_0 = linear(viridis(t)) per matplotlib", f"max error {err:.4f}")


def check_obj(path, inputs, heat):
    text = open(path).read()
    verts = np.array([l.split()[1:4] for l in text.splitlines() if l.startswith("v ")], dtype=np.float64)
    want = np.concatenate([to_ar(read_ply_scalars(p)[0]) for p in inputs])
    lo, hi = want.min(0), want.max(0)
    want = want - np.array([(lo[0] + hi[0]) / 2, lo[1], (lo[2] + hi[2]) / 2])  # standing on the origin
    check(verts.shape == want.shape and np.abs(verts - want).max() < 1e-6,
          "OBJ vertices = 0.001 (x, z, -y), standing on the origin")
    mtl = re.search(r"^mtllib (.+)$", text, re.M).group(1)
    mtl_text = open(path.rsplit("/", 1)[0] + "/" + mtl if "/" in path else mtl).read()
    objects = re.findall(r"^o (\S+)", text, re.M)
    check(len(objects) == len(inputs) and all(f"newmtl {o}" in mtl_text for o in objects), "one object and material per input")
    check(("map_Kd" in mtl_text) == bool(heat), "colormap texture exactly with a heat map")


def main():
    mode, target = sys.argv[1:3]
    rest = sys.argv[3:]
    heat = None
    if "--heat" in rest:
        heat = rest[rest.index("--heat") + 1]
        rest = rest[: rest.index("--heat")]
    {"usdz": check_usdz, "glb": check_glb, "obj": check_obj}[mode](target, rest, heat)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
