# Type stubs of ssmx.drr. LPS millimetres; pixel (u, v) = (column, row); images (rows, cols).
from typing import Callable, List, Literal, Optional, Sequence, Tuple, Union, overload

import numpy as np
import numpy.typing as npt

from . import Image2D, TriangleMesh, Volume, VolumeGeometry

_Float64 = npt.NDArray[np.float64]
_Vector3 = Union[Sequence[float], _Float64]
_Progress = Callable[[float, str], Optional[bool]]
_View = Literal["AP", "LAT", "ap", "lat"]
_Projector = Literal["exact", "trilinear"]

DEFAULT_MU_WATER_PER_MM: float

class CarmGeometry:
    rows: int
    cols: int
    pixel_spacing_u_mm: float
    pixel_spacing_v_mm: float
    source_to_detector_mm: float
    source_to_isocenter_mm: float
    principal_point_px: _Float64  # (2,), NaN = detector centre
    rotation: _Float64  # (3, 3) columns e_u, e_v, d
    isocenter_mm: _Float64  # (3,)
    def __init__(
        self,
        rows: int = ...,
        cols: int = ...,
        pixel_spacing_u_mm: float = ...,
        pixel_spacing_v_mm: float = ...,
        source_to_detector_mm: float = ...,
        source_to_isocenter_mm: float = ...,
        principal_point_px: Sequence[float] = ...,
        rotation: Union[Sequence[Sequence[float]], _Float64] = ...,
        isocenter_mm: _Vector3 = ...,
    ) -> None: ...
    def principal_point(self) -> _Float64: ...  # (2,)
    def validate(self) -> str: ...

def named_view_rotation(view: _View) -> _Float64: ...  # (3, 3)
def default_isocenter(geometry: VolumeGeometry) -> _Float64: ...  # (3,)

class ProjectionGeometry:
    @staticmethod
    def from_carm(carm: CarmGeometry) -> ProjectionGeometry: ...
    @staticmethod
    def from_matrix(
        projection: Union[Sequence[Sequence[float]], _Float64],
        rows: int,
        cols: int,
        pixel_spacing_u_mm: float,
        pixel_spacing_v_mm: float,
        source_to_isocenter_mm: float,
    ) -> ProjectionGeometry: ...
    @staticmethod
    def named(view: _View, isocenter_mm: _Vector3, detector: CarmGeometry = ...) -> ProjectionGeometry: ...
    @property
    def matrix(self) -> _Float64: ...  # (3, 4)
    @property
    def rows(self) -> int: ...
    @property
    def cols(self) -> int: ...
    @property
    def pixel_spacing_u_mm(self) -> float: ...
    @property
    def pixel_spacing_v_mm(self) -> float: ...
    @property
    def source_to_isocenter_mm(self) -> float: ...
    @property
    def source_to_detector_mm(self) -> float: ...
    def to_carm(self) -> CarmGeometry: ...
    def intrinsics(self) -> _Float64: ...  # (3, 3)
    def source_position(self) -> _Float64: ...  # (3,)
    def beam_direction(self) -> _Float64: ...  # (3,)
    @overload
    def project(self, points_mm: _Vector3) -> Tuple[_Float64, float]: ...
    @overload
    def project(self, points_mm: _Float64) -> Tuple[_Float64, _Float64]: ...
    def detector_point(self, u: float, v: float) -> _Float64: ...  # (3,)
    def ray_direction(self, u: float, v: float) -> _Float64: ...  # (3,)

class Sidecar:
    geometry: ProjectionGeometry
    quantity: Optional[Literal["line_integral", "intensity", "mask", "path_length_mm"]]
    view: str
    mu_water_per_mm: Optional[float]
    i0: Optional[float]
    png_window: Optional[Tuple[float, float]]
    projector: str
    def __init__(
        self,
        geometry: ProjectionGeometry,
        quantity: Optional[str] = ...,
        view: str = ...,
        mu_water_per_mm: Optional[float] = ...,
        i0: Optional[float] = ...,
        png_window: Optional[Sequence[float]] = ...,
        projector: str = ...,
    ) -> None: ...

def sidecar_path(image_path: str) -> str: ...
def sidecar_to_json(sidecar: Sidecar) -> str: ...
def sidecar_from_json(text: str, what: str = ...) -> Sidecar: ...
def write_sidecar(sidecar: Sidecar, path: str) -> None: ...
def read_sidecar(path: str) -> Sidecar: ...

class PreparedVolume:
    @staticmethod
    def from_hounsfield(ct: Volume, mu_water_per_mm: float = ...) -> PreparedVolume: ...
    @staticmethod
    def from_hounsfield_masked(ct: Volume, mask: Volume, mu_water_per_mm: float = ...) -> PreparedVolume: ...
    @staticmethod
    def from_attenuation(mu: Volume) -> PreparedVolume: ...
    @staticmethod
    def from_mask(labels: Volume) -> PreparedVolume: ...
    @staticmethod
    def read_hounsfield(
        path: str,
        mu_water_per_mm: float = ...,
        *,
        series: str = ...,
        allow_gaps: bool = ...,
        progress: Optional[_Progress] = ...,
    ) -> PreparedVolume: ...
    @property
    def geometry(self) -> VolumeGeometry: ...
    @property
    def empty(self) -> bool: ...
    @property
    def size_bytes(self) -> int: ...
    @property
    def mu(self) -> npt.NDArray[np.float32]: ...  # (k, j, i), read-only view, 1/mm
    @property
    def nonzero_min(self) -> npt.NDArray[np.int32]: ...  # (3,) (i, j, k)
    @property
    def nonzero_max(self) -> npt.NDArray[np.int32]: ...
    BLOCK_SIZE: int
    def block_counts(self) -> npt.NDArray[np.int32]: ...  # (3,) along (i, j, k)
    @property
    def nonzero_blocks(self) -> npt.NDArray[np.uint8]: ...  # (nb_k, nb_j, nb_i), read-only

class PreparedVolumeBuilder:
    def __init__(self, geometry: VolumeGeometry, mu_water_per_mm: float = ...) -> None: ...
    def add_hounsfield_slab(self, slab_hu: Volume, k_begin: int) -> None: ...
    def finish(self) -> PreparedVolume: ...

def projector_kinds() -> List[str]: ...
def project(
    volume: PreparedVolume,
    geometry: ProjectionGeometry,
    *,
    projector: _Projector = ...,
    step_voxels: float = ...,
    threads: int = ...,
) -> Image2D: ...
def integrate_segment(
    volume: PreparedVolume,
    from_mm: _Vector3,
    to_mm: _Vector3,
    *,
    projector: _Projector = ...,
    step_voxels: float = ...,
) -> float: ...
def attenuation_from_hounsfield(hu: npt.ArrayLike, mu_water_per_mm: float = ...) -> npt.NDArray[np.float32]: ...

def intensity_from_line_integral(
    line_integral: Image2D, i0: float, noise_seed: Optional[int] = ...
) -> Image2D: ...
def line_integral_from_intensity(intensity: Image2D, i0: float) -> Image2D: ...
def mask_from_path_length(path_length: Image2D, threshold: float = ...) -> Image2D: ...
def poisson_draw(mean: float, seed: int, index: int) -> int: ...
def project_mesh_path_length(
    mesh: TriangleMesh, geometry: ProjectionGeometry, threads: int = ...
) -> Image2D: ...

class XrayImage:
    @property
    def image(self) -> Image2D: ...
    @property
    def sidecar(self) -> Sidecar: ...

def default_png_window(image: Image2D, i0: Optional[float] = ...) -> Tuple[float, float]: ...
def write_xray_image(
    image: Image2D, sidecar: Sidecar, path: str, png_window: Optional[Sequence[float]] = ...
) -> None: ...
def read_xray_image(path: str) -> XrayImage: ...

# Training pairs (docs/pairs.md).
class PairsSummary:
    @property
    def volumes(self) -> int: ...
    @property
    def samples_total(self) -> int: ...
    @property
    def samples_written(self) -> int: ...
    @property
    def samples_skipped(self) -> int: ...
    @property
    def files_written(self) -> int: ...
    @property
    def clipped_pixels(self) -> int: ...
    @property
    def manifest_csv(self) -> str: ...
    @property
    def manifest_json(self) -> str: ...
    @property
    def seconds_read(self) -> float: ...
    @property
    def seconds_generate(self) -> float: ...
    @property
    def seconds_manifest(self) -> float: ...
    @property
    def warnings(self) -> List[str]: ...
    def brief_report(self) -> str: ...

def generate_pairs(
    volumes: Sequence[str],
    out: str,
    *,
    per_volume: int = ...,
    views: Sequence[_View] = ...,
    size: Tuple[int, int] = ...,  # (cols, rows)
    pixel_spacing_mm: Union[float, Tuple[float, float]] = ...,
    source_to_detector_mm: float = ...,
    source_to_isocenter_mm: float = ...,
    pose_jitter_mm: float = ...,
    pose_jitter_deg: float = ...,
    label_maps: Sequence[str] = ...,
    labels: Sequence[str] = ...,
    label_table: str = ...,
    landmarks: Sequence[str] = ...,
    i0: Optional[float] = ...,
    seed: int = ...,
    workers: int = ...,
    format: Literal["png", "tiff"] = ...,
    window: Optional[Tuple[float, float]] = ...,
    projector: _Projector = ...,
    step_voxels: float = ...,
    mu_water_per_mm: float = ...,
    series: str = ...,
    allow_gaps: bool = ...,
    partition: Optional[Tuple[int, int, int]] = ...,  # (volume, begin, end)
    manifest_only: bool = ...,
    progress: Optional[_Progress] = ...,
) -> PairsSummary: ...
def pair_partitions(volume_count: int, per_volume: int, chunk: int) -> List[Tuple[int, int, int]]: ...
