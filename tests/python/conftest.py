"""Shared fixtures of the ssmx Python tests.

Independent truth lives here: numpy builders of meshes and volumes whose
areas, volumes, distances and line integrals are known in closed form, and
readers of MetaImage and NIfTI files that use only numpy, zlib and gzip.
"""

import gzip
import os
import pathlib
import struct
import zlib

import numpy as np
import pytest

SOURCE_DIR = pathlib.Path(os.environ.get("SSMX_SOURCE_DIR", pathlib.Path(__file__).parents[2]))


def data_dir() -> pathlib.Path:
    return pathlib.Path(os.environ.get("SSMX_DATA", SOURCE_DIR.parent / "shared" / "data"))


@pytest.fixture
def data():
    """The real test data ($SSMX_DATA, default ../shared/data); skips when absent."""
    path = data_dir()
    if not (path / "README.md").exists():
        pytest.skip(f"no real test data at {path} (set SSMX_DATA)")
    return path


def box_mesh(lo, hi):
    """An axis-aligned box as 8 vertices and 12 outward triangles (float64, int32)."""
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    corners = np.array([[(hi if (c >> a) & 1 else lo)[a] for a in range(3)] for c in range(8)])
    # Corner c has x from bit 0, y from bit 1, z from bit 2. Faces counter-clockwise from outside.
    faces = np.array([
        [0, 2, 1], [1, 2, 3],  # z = lo, normal -z
        [4, 5, 6], [5, 7, 6],  # z = hi, normal +z
        [0, 1, 4], [1, 5, 4],  # y = lo, normal -y
        [2, 6, 3], [3, 6, 7],  # y = hi, normal +y
        [0, 4, 2], [2, 4, 6],  # x = lo, normal -x
        [1, 3, 5], [3, 7, 5],  # x = hi, normal +x
    ], dtype=np.int32)
    return np.ascontiguousarray(corners), faces


def mesh_area_volume(vertices, faces):
    """Surface area and signed enclosed volume (divergence theorem) computed in numpy."""
    a, b, c = (vertices[faces[:, k]] for k in range(3))
    cross = np.cross(b - a, c - a)
    area = 0.5 * np.linalg.norm(cross, axis=1).sum()
    volume = np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0
    return area, volume


def read_metaimage(path):
    """(array (k, j, i), header dict) of a .mha file, with numpy and zlib only."""
    raw = pathlib.Path(path).read_bytes()
    header = {}
    offset = 0
    while True:
        end = raw.index(b"\n", offset)
        key, _, value = raw[offset:end].decode().partition(" = ")
        header[key.strip()] = value.strip()
        offset = end + 1
        if key.strip() == "ElementDataFile":
            break
    payload = raw[offset:]
    if header.get("CompressedData") == "True":
        payload = zlib.decompress(payload)
    dtype = {"MET_SHORT": "<i2", "MET_FLOAT": "<f4", "MET_INT": "<i4", "MET_UCHAR": "u1"}[
        header["ElementType"]]
    size = [int(s) for s in header["DimSize"].split()]
    array = np.frombuffer(payload, dtype=dtype).reshape(size[::-1])
    return array, header


def write_metaimage(path, array, spacing, origin, direction=np.eye(3)):
    """An uncompressed .mha file written by hand (not by ssmx)."""
    element = {np.dtype("<i2"): "MET_SHORT", np.dtype("<f4"): "MET_FLOAT"}[array.dtype]
    lines = [
        "ObjectType = Image", "NDims = 3", "BinaryData = True", "BinaryDataByteOrderMSB = False",
        "CompressedData = False",
        "TransformMatrix = " + " ".join(repr(float(x)) for x in np.asarray(direction).T.ravel()),
        "Offset = " + " ".join(repr(float(x)) for x in origin),
        "ElementSpacing = " + " ".join(repr(float(x)) for x in spacing),
        "DimSize = " + " ".join(str(n) for n in array.shape[::-1]),
        f"ElementType = {element}", "ElementDataFile = LOCAL",
    ]
    pathlib.Path(path).write_bytes(("\n".join(lines) + "\n").encode() + array.tobytes())


def read_nifti(path):
    """(array (k, j, i), sform 4x4, pixdim) of a NIfTI-1 file with numpy and gzip only."""
    raw = pathlib.Path(path).read_bytes()
    if str(path).endswith(".gz"):
        raw = gzip.decompress(raw)
    assert struct.unpack_from("<i", raw, 0)[0] == 348, "little-endian NIfTI-1 expected"
    dim = struct.unpack_from("<8h", raw, 40)
    datatype = struct.unpack_from("<h", raw, 70)[0]
    pixdim = struct.unpack_from("<8f", raw, 76)
    vox_offset = int(struct.unpack_from("<f", raw, 108)[0])
    scl_slope, scl_inter = struct.unpack_from("<2f", raw, 112)
    srow = np.array(struct.unpack_from("<12f", raw, 280), dtype=np.float64).reshape(3, 4)
    dtype = {4: "<i2", 8: "<i4", 16: "<f4", 2: "u1", 64: "<f8"}[datatype]
    n = dim[1:4]
    array = np.frombuffer(raw, dtype=dtype, count=n[0] * n[1] * n[2], offset=vox_offset)
    array = array.reshape(n[::-1])
    if scl_slope not in (0.0, 1.0) or scl_inter != 0.0:
        array = array * scl_slope + scl_inter
    sform = np.vstack([srow, [0, 0, 0, 1]])
    return array, sform, pixdim
