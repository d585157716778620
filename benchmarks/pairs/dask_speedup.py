#!/usr/bin/env python3
"""Training pairs on a dask LocalCluster: 2 worker processes vs 1 (docs/pairs.md).

Writes the 256^3 body phantom (benchmarks/drr/compare_plastimatch.py, 1.5 mm)
as MetaImage, then generates the same 256 x 256 AP + LAT dataset with a
LocalCluster of 1 and of 2 single-threaded worker processes (the same
partitions), checks that both datasets are byte-identical, and prints the
times (best of --repeats alternating runs) and the speed-up. Cluster start-up is excluded; reading the CT once per
partition is included (it is part of the distributed cost).

    PYTHONPATH=build/python /usr/bin/python3 benchmarks/pairs/dask_speedup.py [--per-volume 32]
"""

import argparse
import pathlib
import shutil
import sys
import tempfile
import time

import ssmx
from dask.distributed import Client, LocalCluster

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "drr"))
from compare_plastimatch import body_phantom  # noqa: E402


def task(volumes, out, options, partition):
    """One partition; returns (cpu seconds, wall seconds) of the worker process for it."""
    import time

    import ssmx.drr

    cpu, wall = time.process_time(), time.perf_counter()
    ssmx.drr.generate_pairs(volumes, out, partition=tuple(partition), workers=1, **options)
    return time.process_time() - cpu, time.perf_counter() - wall


def run(workers, volumes, out, options, parts):
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      # one core per worker: ssmx inside it uses one thread too
                      env={"SSMX_NUM_THREADS": "1"},
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.submit(sum, [1]).result()  # workers up
        start = time.perf_counter()
        futures = client.map(task, [volumes] * len(parts), [out] * len(parts),
                             [options] * len(parts), parts, pure=False)
        tasks = client.gather(futures)
        ssmx.drr.generate_pairs(volumes, out, manifest_only=True, **options)
        return time.perf_counter() - start, tasks


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-volume", type=int, default=32)
    parser.add_argument("--partitions", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of each, alternating; the fastest counts (shared machines)")
    args = parser.parse_args()
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="ssmx_dask_speedup_"))
    try:
        ct = scratch / "body_256.mha"
        g = ssmx.VolumeGeometry(size=(256, 256, 256), spacing_mm=(1.5, 1.5, 1.5),
                                origin_mm=(-191.25, -191.25, -191.25))
        ssmx.ssm.write_volume(ssmx.Volume(body_phantom(256, 256, 256, 1.5), g), str(ct))
        options = dict(per_volume=args.per_volume, size=(256, 256), pixel_spacing_mm=2.4)
        chunk = -(-args.per_volume // args.partitions)
        parts = ssmx.drr.pair_partitions(1, args.per_volume, chunk)
        times, cpu_share, cpu_total = {1: [], 2: []}, {1: [], 2: []}, {1: [], 2: []}
        for repeat in range(args.repeats):
            for workers in (1, 2):
                out = scratch / f"w{workers}"
                shutil.rmtree(out, ignore_errors=True)
                seconds, tasks = run(workers, [str(ct)], str(out), options, parts)
                times[workers].append(seconds)
                # CPU time / wall time of the tasks: 1.0 when each worker had a core to itself.
                cpu_share[workers].append(sum(c for c, _ in tasks) / sum(w for _, w in tasks))
                cpu_total[workers].append(sum(c for c, _ in tasks))
        all_times = {w: ", ".join(f"{t:.2f}" for t in ts) for w, ts in times.items()}
        shares = {w: ", ".join(f"{c:.2f}" for c in cs) for w, cs in cpu_share.items()}
        cpus = {w: ", ".join(f"{c:.2f}" for c in cs) for w, cs in cpu_total.items()}
        times = {w: min(ts) for w, ts in times.items()}
        same = all((scratch / "w1" / p.relative_to(scratch / "w2")).read_bytes() == p.read_bytes()
                   for p in (scratch / "w2").rglob("*") if p.is_file())
        pairs = args.per_volume
        print(f"{pairs} pairs (256x256 AP+LAT of a 256^3 CT) in {len(parts)} partitions")
        for workers, seconds in times.items():
            print(f"  {workers} worker(s): best {seconds:.2f} s ({all_times[workers]}), "
                  f"{pairs / seconds:.2f} pairs/s; task CPU/wall {shares[workers]}; "
                  f"task CPU s {cpus[workers]}")
        print(f"  speed-up 2 vs 1 workers: {times[1] / times[2]:.2f}x; identical bytes: {same}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
