"""ssmx.drr -- projection geometry, DRRs, detector model, X-ray image IO.

Mirrors the C++ target ssmx::drr (drr/include/ssmx/drr). A view is a
``ProjectionGeometry`` (the 3x4 matrix P of docs/geometry.md); ``project``
returns an ``ssmx.Image2D`` whose (rows, cols) float32 pixels are a view of the
C++ buffer. See docs/python.md.
"""

from ._core.drr import *  # noqa: F401,F403  (names listed in drr.pyi)


def pair_partitions(volume_count, per_volume, chunk):
    """(volume, begin, end) ranges covering every sample of a pairs dataset.

    Each range holds at most ``chunk`` samples of one volume; pass each as
    ``generate_pairs(..., partition=p)`` to a worker, then call
    ``generate_pairs(..., manifest_only=True)`` once (examples/python/pairs_on_dask.py).
    """
    if volume_count < 1 or per_volume < 1 or chunk < 1:
        raise ValueError("pair_partitions: volume_count, per_volume and chunk must be >= 1")
    return [
        (volume, begin, min(begin + chunk, per_volume))
        for volume in range(volume_count)
        for begin in range(0, per_volume, chunk)
    ]
