"""ssmx.drr -- projection geometry, DRRs, detector model, X-ray image IO.

Mirrors the C++ target ssmx::drr (drr/include/ssmx/drr). A view is a
``ProjectionGeometry`` (the 3x4 matrix P of docs/geometry.md); ``project``
returns an ``ssmx.Image2D`` whose (rows, cols) float32 pixels are a view of the
C++ buffer. See docs/python.md.
"""

from ._core.drr import *  # noqa: F401,F403  (names listed in drr.pyi)
