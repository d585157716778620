"""ssmx.drr.generate_pairs: training pairs, resume, partitions on a dask cluster.

Truth without ssmx: SHA-256 from hashlib, PNG files decoded with zlib here,
mask centroids against the landmark pixels, and a dask.distributed
LocalCluster (2 worker processes) that must reproduce the single-process bytes.
"""

import csv
import hashlib
import json
import pathlib
import struct
import zlib

import numpy as np
import pytest

import ssmx

drr = ssmx.drr


def _read_png16(path):
    """A 16-bit greyscale PNG as a (rows, cols) uint16 array (zlib + the five filters)."""
    data = pathlib.Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    cols, rows, depth, colour = header[0], header[1], header[2], header[3]
    assert (depth, colour) == (16, 0), "expected 16-bit grey"
    raw = zlib.decompress(idat)
    bpp, stride = 2, cols * 2
    out = np.zeros((rows, stride), np.uint8)
    prev = np.zeros(stride, np.int32)
    for r in range(rows):
        kind = raw[r * (stride + 1)]
        line = np.frombuffer(raw, np.uint8, stride, r * (stride + 1) + 1).astype(np.int32)
        cur = np.zeros(stride, np.int32)
        for i in range(stride):
            a = cur[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if kind == 0:
                pred = 0
            elif kind == 1:
                pred = a
            elif kind == 2:
                pred = b
            elif kind == 3:
                pred = (a + b) // 2
            else:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[i] = (line[i] + pred) & 0xFF
        out[r] = cur
        prev = cur
    return out.view(">u2").reshape(rows, cols).astype(np.uint16)


@pytest.fixture(scope="module")
def small_ct(tmp_path_factory):
    """A 3 mm CT (water cylinder, bone ball), its ball label map and a landmark at the ball."""
    root = tmp_path_factory.mktemp("pairs_inputs")
    g = ssmx.VolumeGeometry(size=(30, 28, 26), spacing_mm=(3, 3, 3), origin_mm=(-45, -40, -30))
    k, j, i = np.mgrid[0:26, 0:28, 0:30]
    hu = np.where(np.hypot(i - 14.5, j - 13.5) < 12, 0, -1000).astype(np.int16)
    ball = (np.sqrt((i - 17) ** 2 + (j - 12) ** 2 + (k - 13) ** 2) * 3 <= 13.5)
    hu[ball] = 1300
    ssmx.ssm.write_volume(ssmx.Volume(hu, g), str(root / "ct.mha"))
    ssmx.ssm.write_volume(ssmx.Volume(ball.astype(np.int16), g), str(root / "labels.nii.gz"))
    (root / "labels.json").write_text(json.dumps({"ball": 1}))
    centre = g.index_to_world(np.array([17.0, 12.0, 13.0]))
    (root / "landmarks.json").write_text(json.dumps({"ball_center": list(map(float, centre))}))
    return root


def _options(root, **extra):
    options = dict(per_volume=4, size=(40, 36), pixel_spacing_mm=3.5, pose_jitter_mm=8,
                   pose_jitter_deg=6, label_maps=[str(root / "labels.nii.gz")],
                   landmarks=[str(root / "landmarks.json")], i0=2e4, seed=5)
    options.update(extra)
    return options


def _snapshot(folder):
    folder = pathlib.Path(folder)
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_manifest_digests_masks_and_landmarks_check_out(small_ct, tmp_path):
    out = tmp_path / "d"
    fractions = []
    summary = drr.generate_pairs([str(small_ct / "ct.mha")], str(out), workers=2,
                                 progress=lambda f, stage: fractions.append(f),
                                 **_options(small_ct))
    assert summary.samples_written == 4 and summary.samples_skipped == 0
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    rows = list(csv.DictReader((out / "manifest.csv").open()))
    assert len(rows) == 4 * 2
    assert {r["view"] for r in rows} == {"AP", "LAT"}
    for row in rows:
        for column in ("image", "sidecar", "pose", "mask_ball", "mask_ball_sidecar", "landmarks"):
            data = (out / row[column]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == row[column + "_sha256"], row[column]
        for axis in "xyz":
            assert abs(float(row[f"translation_{axis}_mm"])) <= 8
            assert abs(float(row[f"rotation_{axis}_deg"])) <= 6
        mask = _read_png16(out / row["mask_ball"])
        assert set(np.unique(mask)) <= {0, 65535}
        v, u = np.nonzero(mask)
        landmark = json.loads((out / row["landmarks"]).read_text())["landmarks"][0]
        assert landmark["name"] == "ball_center"
        np.testing.assert_allclose(landmark["uv_px"], [u.mean(), v.mean()], atol=0.4)
        image = _read_png16(out / row["image"])
        sidecar = json.loads((out / row["sidecar"]).read_text())
        assert sidecar["png_window"] == [0, 2e4] and sidecar["i0"] == 2e4
        assert image.shape == (36, 40) and image.max() > 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["sample"] for s in manifest["samples"]] == [0, 1, 2, 3]
    assert "LPS" in (out / "README.txt").read_text()

    # The same call again resumes: everything verifies, nothing is rewritten.
    again = drr.generate_pairs([str(small_ct / "ct.mha")], str(out), workers=1, **_options(small_ct))
    assert again.samples_written == 0 and again.samples_skipped == 4
    with pytest.raises(ssmx.InvalidInput, match="different arguments"):
        drr.generate_pairs([str(small_ct / "ct.mha")], str(out), **_options(small_ct, seed=6))
    with pytest.raises(ssmx.InvalidInput):
        drr.generate_pairs([str(small_ct / "ct.mha")], str(out), partition=(0, 3, 9),
                           **_options(small_ct))


def test_progress_can_cancel(small_ct, tmp_path):
    with pytest.raises(ssmx.Cancelled):
        drr.generate_pairs([str(small_ct / "ct.mha")], str(tmp_path / "c"),
                           progress=lambda f, stage: False, **_options(small_ct))


def test_pair_partitions_cover_every_sample_once():
    parts = drr.pair_partitions(2, 5, 2)
    assert parts == [(0, 0, 2), (0, 2, 4), (0, 4, 5), (1, 0, 2), (1, 2, 4), (1, 4, 5)]
    with pytest.raises(ValueError):
        drr.pair_partitions(1, 5, 0)


def _partition_task(volumes, out, options, partition):
    import ssmx.drr  # noqa: F401  (runs in a worker process)
    return ssmx.drr.generate_pairs(volumes, out, partition=tuple(partition), workers=1,
                                   **options).samples_written


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # tornado inside distributed
def test_dask_local_cluster_with_two_workers_gives_the_single_process_bytes(small_ct, tmp_path):
    from dask.distributed import Client, LocalCluster

    volumes = [str(small_ct / "ct.mha"), str(small_ct / "ct.mha")]
    options = _options(small_ct, label_maps=[str(small_ct / "labels.nii.gz")] * 2,
                       landmarks=[str(small_ct / "landmarks.json")] * 2, per_volume=5)
    drr.generate_pairs(volumes, str(tmp_path / "single"), workers=1, **options)

    out = str(tmp_path / "cluster")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        parts = drr.pair_partitions(len(volumes), options["per_volume"], 2)
        futures = client.map(_partition_task, [volumes] * len(parts), [out] * len(parts),
                             [options] * len(parts), parts)
        written = client.gather(futures)
    assert sum(written) == 10
    drr.generate_pairs(volumes, out, manifest_only=True, **options)
    single, parallel = _snapshot(tmp_path / "single"), _snapshot(out)
    assert single.keys() == parallel.keys()
    assert all(single[name] == parallel[name] for name in single)
