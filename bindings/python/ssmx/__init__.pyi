# Type stubs of the ssmx package (the core types live in ssmx._core).
# Shapes: V vertices, F faces, N points; volumes are (k, j, i); images (rows, cols).
from typing import Any, Callable, Dict, Literal, Optional, Sequence, Tuple, Union, overload

import numpy as np
import numpy.typing as npt

from . import ar_export as ar_export
from . import drr as drr
from . import registration as registration
from . import ssm as ssm

__version__: str

_Float64 = npt.NDArray[np.float64]
_Int32 = npt.NDArray[np.int32]
_Vector3 = Union[Sequence[float], _Float64]
_Matrix3 = Union[Sequence[Sequence[float]], _Float64]
_Progress = Callable[[float, str], Optional[bool]]
_Quantity = Literal["line_integral", "intensity", "mask", "path_length_mm"]

class Error(RuntimeError): ...
class InvalidInput(Error, ValueError): ...
class IoError(Error, OSError): ...
class NotConverged(Error): ...
class Cancelled(Error): ...
class InternalError(Error): ...

class VolumeGeometry:
    """p_lps = origin_mm + direction @ diag(spacing_mm) @ (i, j, k); numpy shape (k, j, i)."""

    size: Tuple[int, int, int]
    spacing_mm: _Float64  # (3,) mm
    origin_mm: _Float64  # (3,) LPS mm
    direction: _Float64  # (3, 3) unit columns
    def __init__(
        self,
        size: Sequence[int] = ...,
        spacing_mm: _Vector3 = ...,
        origin_mm: _Vector3 = ...,
        direction: _Matrix3 = ...,
    ) -> None: ...
    @property
    def shape(self) -> Tuple[int, int, int]: ...
    def world_from_index(self) -> _Float64: ...  # (4, 4)
    def index_from_world(self) -> _Float64: ...  # (4, 4)
    def index_to_world(self, ijk: Union[_Vector3, _Float64]) -> _Float64: ...  # (3,) | (N, 3)
    def world_to_index(self, points_mm: Union[_Vector3, _Float64]) -> _Float64: ...
    def num_voxels(self) -> int: ...
    def center(self) -> _Float64: ...  # (3,) mm
    def validate(self) -> str: ...

class Volume:
    """Voxels (k, j, i) int16 or float32 plus their VolumeGeometry (LPS mm)."""

    array: Union[npt.NDArray[np.int16], npt.NDArray[np.float32]]
    geometry: VolumeGeometry
    def __init__(
        self,
        array: Union[npt.NDArray[np.int16], npt.NDArray[np.float32]],
        geometry: Optional[VolumeGeometry] = ...,
    ) -> None: ...
    @staticmethod
    def zeros(geometry: VolumeGeometry, voxel_type: Literal["int16", "float32"] = ...) -> Volume: ...
    @property
    def voxel_type(self) -> Literal["int16", "float32"]: ...
    @property
    def shape(self) -> Tuple[int, int, int]: ...

class TriangleMesh:
    """vertices (V, 3) float64 mm, faces (F, 3) int32, normals (V, 3)|(0, 3), scalars {name: (V,)}."""

    vertices: _Float64
    faces: _Int32
    normals: _Float64
    scalars: Dict[str, _Float64]
    def __init__(
        self,
        vertices: _Float64,
        faces: _Int32,
        normals: Optional[_Float64] = ...,
        scalars: Optional[Dict[str, _Float64]] = ...,
    ) -> None: ...
    @property
    def num_vertices(self) -> int: ...
    @property
    def num_faces(self) -> int: ...
    def copy(self) -> TriangleMesh: ...

class Bounds3d:
    @property
    def min(self) -> _Float64: ...  # (3,) mm
    @property
    def max(self) -> _Float64: ...  # (3,) mm
    def extent(self) -> _Float64: ...

class MeshCheck:
    @property
    def non_finite_vertices(self) -> int: ...
    @property
    def out_of_range_indices(self) -> int: ...
    @property
    def degenerate_faces(self) -> int: ...
    @property
    def unreferenced_vertices(self) -> int: ...
    @property
    def boundary_edges(self) -> int: ...
    @property
    def non_manifold_edges(self) -> int: ...
    @property
    def inconsistent_edges(self) -> int: ...
    @property
    def connected_components(self) -> int: ...
    @property
    def surface_area_mm2(self) -> float: ...
    @property
    def enclosed_volume_mm3(self) -> float: ...
    def watertight(self) -> bool: ...
    def problems(self) -> list[str]: ...

class Image2D:
    """pixels (rows, cols) float32, row 0 at the top; pixel (u, v) = pixels[v, u]."""

    pixels: npt.NDArray[np.float32]
    quantity: _Quantity
    pixel_spacing_u_mm: float
    pixel_spacing_v_mm: float
    def __init__(
        self,
        pixels: npt.NDArray[np.float32],
        quantity: _Quantity = ...,
        pixel_spacing_u_mm: float = ...,
        pixel_spacing_v_mm: float = ...,
    ) -> None: ...
    @property
    def rows(self) -> int: ...
    @property
    def cols(self) -> int: ...

def check_mesh(mesh: TriangleMesh) -> MeshCheck: ...
def compute_bounds(mesh: TriangleMesh) -> Bounds3d: ...
def validate_mesh(mesh: TriangleMesh, what: str = ...) -> None: ...
def remove_repeated_index_faces(mesh: TriangleMesh) -> int: ...
def set_log_level(level: Literal["debug", "info", "warning", "error", "off"]) -> None: ...
def get_log_level() -> str: ...
def write_file_atomically(path: str, data: bytes) -> None: ...
def tqdm_progress(desc: Optional[str] = ..., **tqdm_kwargs: Any) -> _Progress: ...
