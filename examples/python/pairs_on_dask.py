#!/usr/bin/env python3
"""Training pairs on a dask.distributed cluster (docs/pairs.md, "Dask").

The dataset is cut into partitions of (volume, sample range); each partition is
one task that writes its samples into the shared dataset folder; a final call
checks every sample and writes the manifest. The result is byte-identical to a
single `ssmx pairs` run with the same arguments. A LocalCluster runs on this
machine; point Client at a scheduler address (and `out` at a shared file
system) to scale past one machine.

    /usr/bin/python3 examples/python/pairs_on_dask.py CT [CT...] --out dataset \
        [--labels LABELMAP...] [--per-volume 100] [--workers 2] [--chunk 10]

With no CT given it makes a small phantom CT (a femur in a thigh) to show the
workflow. Needs Debian's python3-distributed (scripts/setup.sh installs it).
"""

import argparse
import os
import pathlib
import tempfile
import time

import ssmx
from dask.distributed import Client, LocalCluster


def run_partition(volumes, out, options, partition):
    """One task: the samples of one partition, on one thread (the cluster has the parallelism)."""
    import ssmx.drr

    summary = ssmx.drr.generate_pairs(volumes, out, partition=tuple(partition), workers=1, **options)
    return summary.samples_written  # PairsSummary is not picklable; return plain values


def phantom_ct(folder):
    """A phantom femur CT and its bone label map (CT > 250 HU), for a demo without data."""
    import numpy as np

    femur = ssmx.ssm.PhantomFemur(ssmx.ssm.mean_femur_parameters("right"))
    ct = ssmx.ssm.synthesize_phantom_ct(femur, ssmx.ssm.PhantomCtOptions(spacing_mm=2.0))
    ssmx.ssm.write_volume(ct, str(folder / "femur_ct.mha"))
    bone = (ct.array > 250).astype(np.int16)
    ssmx.ssm.write_volume(ssmx.Volume(bone, ct.geometry), str(folder / "femur_labels.nii.gz"))
    (folder / "femur_labels.json").write_text('{"femur": 1}')
    return [str(folder / "femur_ct.mha")], [str(folder / "femur_labels.nii.gz")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("volumes", nargs="*", help="CT files or DICOM folders (HU)")
    parser.add_argument("--out", required=True, help="dataset folder")
    parser.add_argument("--labels", nargs="*", default=[], help="one label map per CT")
    parser.add_argument("--per-volume", type=int, default=20)
    parser.add_argument("--size", type=int, nargs=2, default=(256, 256), metavar=("COLS", "ROWS"))
    parser.add_argument("--workers", type=int, default=2, help="dask worker processes")
    parser.add_argument("--chunk", type=int, default=10, help="samples per task")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scheduler", help="address of an existing dask scheduler")
    args = parser.parse_args()

    volumes, labels = args.volumes, args.labels
    scratch = None
    if not volumes:
        scratch = tempfile.TemporaryDirectory(prefix="ssmx_pairs_demo_")
        volumes, labels = phantom_ct(pathlib.Path(scratch.name))
    options = dict(per_volume=args.per_volume, size=tuple(args.size), label_maps=labels,
                   seed=args.seed)
    out = os.path.abspath(args.out)

    start = time.perf_counter()
    if args.scheduler:
        client, cluster = Client(args.scheduler), None
    else:
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                               # one core per worker: ssmx inside it uses one thread too
                               env={"SSMX_NUM_THREADS": "1"},
                               dashboard_address=None)
        client = Client(cluster)
    try:
        parts = ssmx.drr.pair_partitions(len(volumes), args.per_volume, args.chunk)
        futures = client.map(run_partition, [volumes] * len(parts), [out] * len(parts),
                             [options] * len(parts), parts, pure=False)
        written = sum(client.gather(futures))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    summary = ssmx.drr.generate_pairs(volumes, out, manifest_only=True, **options)
    seconds = time.perf_counter() - start
    total = len(volumes) * args.per_volume
    print(f"{out}: {total} samples ({written} generated now) in {len(parts)} tasks on "
          f"{args.workers} workers, {seconds:.1f} s ({total / seconds:.2f} samples/s); "
          f"manifest {summary.manifest_csv}")
    if scratch:
        scratch.cleanup()


if __name__ == "__main__":
    main()
