"""ssmx: 3D bone models from two X-rays -- volumes, meshes, DRRs and AR export.

The package mirrors the C++ targets:

- ``ssmx`` (this module): the core types ``Volume``/``VolumeGeometry``
  (voxels as a (k, j, i) numpy array in LPS mm), ``TriangleMesh`` ((V, 3)
  float64 vertices, (F, 3) int32 faces), ``Image2D``, mesh checks, the error
  classes and logging.
- ``ssmx.ssm``: volume and mesh IO, DICOM, surfaces, distances, label maps,
  voxelisation, the phantom femur cohort and shape models (statismo files).
- ``ssmx.drr``: projection geometry, DRRs, the detector model, X-ray image IO.
- ``ssmx.registration``: poses and rigid CT-to-X-ray registration (the biplanar fit joins it).
- ``ssmx.ar_export``: GLB, USDZ, OBJ/STL/PLY and the offline viewer.

Arrays: outputs are numpy views of the C++ buffers (no copy; they stay valid
after the object that produced them is gone). Large array inputs must have
exactly the documented dtype and be C-contiguous, else TypeError/ValueError.
Errors from the C++ core raise ``ssmx.Error`` subclasses: ``InvalidInput``
(also a ValueError), ``IoError`` (also an OSError), ``NotConverged``,
``Cancelled``, ``InternalError``. Long calls release the GIL and accept
``progress=callable(fraction, stage)``; see ``ssmx.tqdm_progress``.
See docs/python.md.
"""

from ._core import (
    Bounds3d,
    Cancelled,
    Error,
    Image2D,
    InternalError,
    InvalidInput,
    IoError,
    MeshCheck,
    NotConverged,
    TriangleMesh,
    Volume,
    VolumeGeometry,
    __version__,
    check_mesh,
    compute_bounds,
    get_log_level,
    remove_repeated_index_faces,
    set_log_level,
    validate_mesh,
    write_file_atomically,
)
from ._progress import tqdm_progress
from . import ar_export, drr, registration, ssm

__all__ = [
    "Bounds3d",
    "Cancelled",
    "Error",
    "Image2D",
    "InternalError",
    "InvalidInput",
    "IoError",
    "MeshCheck",
    "NotConverged",
    "TriangleMesh",
    "Volume",
    "VolumeGeometry",
    "__version__",
    "ar_export",
    "check_mesh",
    "compute_bounds",
    "drr",
    "get_log_level",
    "registration",
    "remove_repeated_index_faces",
    "set_log_level",
    "ssm",
    "tqdm_progress",
    "validate_mesh",
    "write_file_atomically",
]
