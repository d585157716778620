"""ssmx.ar_export -- GLB, USDZ, OBJ/STL/PLY export and the offline viewer.

Mirrors the C++ target ssmx::ar_export (ar_export/include/ssmx/ar_export).
Build a ``Scene`` of named ``Structure`` objects (meshes in LPS mm) and call
``export_scene`` or one writer. See docs/ar_export.md and docs/python.md.
"""

from ._core.ar_export import *  # noqa: F401,F403  (names listed in ar_export.pyi)
