"""ssmx.ssm -- volumes, meshes, surfaces, distances, label maps, phantoms, shape models.

Mirrors the C++ target ssmx::ssm (libssm/include/ssmx/ssm). Volumes are
``ssmx.Volume`` (a (k, j, i) int16/float32 array plus ``VolumeGeometry`` in
LPS mm), meshes ``ssmx.TriangleMesh`` ((V, 3) float64 vertices in mm, (F, 3)
int32 faces). See docs/python.md.
"""

from ._core.ssm import *  # noqa: F401,F403  (names listed in ssm.pyi)
