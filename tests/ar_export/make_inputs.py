"""Makes the AR-export test inputs from real meshes, with numpy only.

usage: make_inputs.py SSMX OUT_DIR DATA_DIR

Writes into OUT_DIR:
  femur.ply           the statismo femur VSD001 (LPS mm), via `ssmx export --ply`
  femur_heat.ply      the same with a per-vertex scalar "uncertainty_mm" = 0.5 +
                      4.5 * (z - zmin) / (zmax - zmin) (0.5 mm at the inferior end,
                      5 mm at the superior end), written here as binary PLY
  femur_100k.ply      the femur with every triangle split into four (midpoint
                      subdivision): > 100k faces, for the size/timing benchmark
  expected.json       extents in mm computed here from the vertices, the truth
                      the browser, Blender and tinyusdz checks compare with
"""
import json
import os
import subprocess
import sys

import numpy as np


def read_ply(path):
    with open(path, "rb") as f:
        data = f.read()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode().splitlines()
    nv = nf = 0
    props = []
    for line in header:
        w = line.split()
        if w[:2] == ["element", "vertex"]:
            nv = int(w[2])
        elif w[:2] == ["element", "face"]:
            nf = int(w[2])
        elif w[0] == "property" and w[1] != "list":
            props.append((w[2], {"double": "<f8", "float": "<f4"}[w[1]]))
    vdtype = np.dtype(props)
    verts = np.frombuffer(data, vdtype, nv, end)
    fdtype = np.dtype([("n", "u1"), ("i", "<i4", 3)])
    faces = np.frombuffer(data, fdtype, nf, end + nv * vdtype.itemsize)
    assert (faces["n"] == 3).all()
    xyz = np.stack([verts["x"], verts["y"], verts["z"]], axis=1).astype(np.float64)
    return xyz, faces["i"].astype(np.int32)


def write_ply(path, xyz, faces, scalars=None):
    scalars = scalars or {}
    header = ["ply", "format binary_little_endian 1.0", "comment test input made by make_inputs.py",
              "element vertex %d" % len(xyz), "property double x", "property double y", "property double z"]
    header += ["property float %s" % name for name in scalars]
    header += ["element face %d" % len(faces), "property list uchar int vertex_indices", "end_header"]
    vdtype = np.dtype([("x", "<f8"), ("y", "<f8"), ("z", "<f8")] + [(n, "<f4") for n in scalars])
    v = np.zeros(len(xyz), vdtype)
    v["x"], v["y"], v["z"] = xyz[:, 0], xyz[:, 1], xyz[:, 2]
    for name, values in scalars.items():
        v[name] = values
    f = np.zeros(len(faces), np.dtype([("n", "u1"), ("i", "<i4", 3)]))
    f["n"] = 3
    f["i"] = faces
    with open(path, "wb") as out:
        out.write(("\n".join(header) + "\n").encode())
        out.write(v.tobytes())
        out.write(f.tobytes())


def subdivide(xyz, faces):
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    key = np.sort(edges, axis=1)
    unique, inverse = np.unique(key, axis=0, return_inverse=True)
    mid = len(xyz) + inverse.reshape(3, -1).T  # columns: edge 01, 12, 20
    new_xyz = np.concatenate([xyz, 0.5 * (xyz[unique[:, 0]] + xyz[unique[:, 1]])])
    a, b, c = faces[:, 0], faces[:, 1], faces[:, 2]
    ab, bc, ca = mid[:, 0], mid[:, 1], mid[:, 2]
    new_faces = np.concatenate([np.stack(t, axis=1) for t in
                                ([a, ab, ca], [ab, b, bc], [ca, bc, c], [ab, bc, ca])])
    return new_xyz, new_faces.astype(np.int32)


def extent(xyz):
    return (xyz.max(axis=0) - xyz.min(axis=0)).tolist()


def main():
    ssmx, out, data = sys.argv[1:4]
    os.makedirs(out, exist_ok=True)
    femur_vtk = os.path.join(data, "meshes/femur_vsd/VSD001_femur.vtk")
    tibia = os.path.join(data, "meshes/visible_human_lower_limb/VHF_Left_Bone_Tibia_smooth.stl")
    fibula = os.path.join(data, "meshes/visible_human_lower_limb/VHF_Left_Bone_Fibula_smooth.stl")
    patella = os.path.join(data, "meshes/visible_human_lower_limb/VHF_Left_Bone_Patella_smooth.stl")
    femur_ply = os.path.join(out, "femur.ply")
    subprocess.run([ssmx, "--quiet", "export", femur_vtk, "--ply", femur_ply], check=True)
    xyz, faces = read_ply(femur_ply)
    z = xyz[:, 2]
    uncertainty = 0.5 + 4.5 * (z - z.min()) / (z.max() - z.min())
    write_ply(os.path.join(out, "femur_heat.ply"), xyz, faces, {"uncertainty_mm": uncertainty})
    big_xyz, big_faces = subdivide(xyz, faces)
    write_ply(os.path.join(out, "femur_100k.ply"), big_xyz, big_faces)
    leg = {}
    for name, path in (("tibia_left", tibia), ("fibula_left", fibula), ("patella_left", patella)):
        p = os.path.join(out, name + ".ply")
        subprocess.run([ssmx, "--quiet", "export", path, "--ply", p], check=True)
        leg[name] = read_ply(p)[0]
    all_leg = np.concatenate(list(leg.values()))
    expected = {
        "femur": {"extent_lps_mm": extent(xyz), "vertices": len(xyz), "faces": len(faces)},
        "femur_100k": {"vertices": len(big_xyz), "faces": len(big_faces)},
        "uncertainty_mm": {"min": float(uncertainty.min()), "max": float(uncertainty.max())},
        "leg": {"extent_lps_mm": extent(all_leg), "structures": list(leg.keys()),
                "faces": {k: int(len(read_ply(os.path.join(out, k + ".ply"))[1])) for k in leg}},
    }
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2)
    print(json.dumps(expected))


if __name__ == "__main__":
    main()
