# Type stubs of ssmx.registration. LPS millimetres, radians; points (n, 3).
from typing import Any, Callable, Dict, List, Literal, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

from . import Image2D, TriangleMesh, Volume
from .drr import PreparedVolume, ProjectionGeometry
from .ssm import ShapeModel

_Float64 = npt.NDArray[np.float64]
_Vector3 = Union[Sequence[float], _Float64]
_Points = Union[Sequence[Sequence[float]], _Float64]
_Progress = Callable[[float, str], Optional[bool]]
_Similarity = Literal["ncc", "gc", "gradient-correlation"]
_Projector = Literal["exact", "trilinear"]

class Pose:
    rotation: _Float64  # (3,) angle-axis, radians
    translation: _Float64  # (3,) mm
    scale: float
    center: _Float64  # (3,) mm
    def __init__(
        self,
        rotation: _Vector3 = ...,
        translation: _Vector3 = ...,
        scale: float = ...,
        center: _Vector3 = ...,
    ) -> None: ...
    @property
    def rotation_matrix(self) -> _Float64: ...  # (3, 3)
    @property
    def matrix(self) -> _Float64: ...  # (4, 4) world_from_object
    def apply(self, points: _Points) -> _Float64: ...  # (n, 3)
    @staticmethod
    def from_matrix(world_from_object: _Float64, center: _Vector3 = ..., what: str = ...) -> Pose: ...
    def recentered(self, center: _Vector3) -> Pose: ...
    def to_json(self, extra_json: str = ...) -> str: ...
    @staticmethod
    def from_json(text: str, what: str = ...) -> Pose: ...

def write_pose(pose: Pose, path: str, extra_json: str = ...) -> None: ...
def read_pose(path: str) -> Pose: ...
def mean_target_registration_error(estimated: Pose, truth: Pose, targets: _Points) -> float: ...

class RegistrationView:
    @property
    def line_integral(self) -> Image2D: ...
    @property
    def geometry(self) -> ProjectionGeometry: ...
    @property
    def name(self) -> str: ...

def prepare_view(
    image: Image2D, geometry: ProjectionGeometry, i0: Optional[float] = ..., what: str = ...
) -> RegistrationView: ...

class RigidRegistrationLevelSummary:
    @property
    def detector_binning(self) -> int: ...
    @property
    def volume_shrink(self) -> int: ...
    @property
    def iterations(self) -> int: ...
    @property
    def initial_score(self) -> float: ...
    @property
    def final_score(self) -> float: ...
    @property
    def seconds(self) -> float: ...
    @property
    def mtre_mm(self) -> Optional[float]: ...

class RigidRegistrationSummary:
    @property
    def pose(self) -> Pose: ...
    @property
    def similarity(self) -> str: ...
    @property
    def initial_score(self) -> float: ...
    @property
    def final_score(self) -> float: ...
    @property
    def view_scores(self) -> List[float]: ...
    @property
    def iterations(self) -> int: ...
    @property
    def drr_count(self) -> int: ...
    @property
    def seconds(self) -> float: ...
    @property
    def levels(self) -> List[RigidRegistrationLevelSummary]: ...
    @property
    def initial_mtre_mm(self) -> Optional[float]: ...
    @property
    def final_mtre_mm(self) -> Optional[float]: ...
    def brief_report(self) -> str: ...

def register_rigid(
    volume: PreparedVolume,
    views: Sequence[RegistrationView],
    initial: Optional[Pose] = ...,
    *,
    similarity: _Similarity = ...,
    levels: Sequence[Tuple[int, int]] = ...,
    max_iterations_per_level: int = ...,
    step_pixels: float = ...,
    central_differences: bool = ...,
    projector: _Projector = ...,
    threads: int = ...,
    true_pose: Optional[Pose] = ...,
    targets: Optional[_Points] = ...,
    background: Optional[PreparedVolume] = ...,
    background_pose: Optional[Pose] = ...,
    roi_margin_mm: float = ...,
    progress: Optional[_Progress] = ...,
) -> RigidRegistrationSummary: ...
def project_posed(
    volume: PreparedVolume,
    pose: Pose,
    geometry: ProjectionGeometry,
    *,
    projector: _Projector = ...,
    threads: int = ...,
) -> Image2D: ...
def image_similarity(a: Image2D, b: Image2D, similarity: _Similarity = ...) -> float: ...
def volume_outside_mask(ct: Volume, mask: Volume, mu_water_per_mm: float = ...) -> PreparedVolume: ...
def volume_center(volume: PreparedVolume) -> _Float64: ...  # (3,)
def target_points(volume: PreparedVolume, min_mu_per_mm: float, max_points: int = ...) -> _Float64: ...
def move_volume(volume: Volume, pose: Pose) -> Volume: ...
def perturb_pose(pose: Pose, translation_mm: float, rotation_rad: float, seed: int) -> Pose: ...
def binned_geometry(geometry: ProjectionGeometry, binning: int) -> ProjectionGeometry: ...
def shrink_volume(volume: PreparedVolume, shrink: int) -> PreparedVolume: ...
def bin_image(image: Image2D, binning: int) -> Image2D: ...

# ---- The biplanar shape-model fit (docs/biplanar_fit.md) -------------------

_Polarity = Literal["auto", "bright", "dark", "any"]
_Landmarks2d = Sequence[Dict[str, Tuple[float, float]]]

class FitView:
    image: Image2D
    geometry: ProjectionGeometry
    name: str
    polarity: _Polarity
    def __init__(
        self, image: Image2D, geometry: ProjectionGeometry, name: str = ..., polarity: _Polarity = ...
    ) -> None: ...

def read_fit_view(path: str) -> FitView: ...
def extract_edges(
    image: Image2D,
    *,
    levels: int = ...,
    sigma_px: float = ...,
    high_quantile: float = ...,
    low_ratio: float = ...,
) -> List[Dict[str, Any]]: ...  # level, factor, edges (rows, cols) uint8, distance_px float32, num_edges
def read_landmarks_2d(path: str, num_views: int) -> List[Dict[str, Tuple[float, float]]]: ...
def triangulate_landmark(
    geometries: Sequence[ProjectionGeometry],
    points: Sequence[Optional[Union[Sequence[float], _Float64]]],
    name: str = ...,
) -> _Float64: ...  # (3,)
def pose_from_landmarks(
    model: ShapeModel,
    geometries: Sequence[ProjectionGeometry],
    landmarks: _Landmarks2d,
    with_scale: bool = ...,
) -> Tuple[Pose, List[str]]: ...

class FitOptions:
    modes: int
    fit_scale: bool
    levels: int
    polarity: _Polarity
    outer_iterations: int
    solver_iterations: int
    edge_noise_px: float
    robust_scale: float
    capture_factor: float
    capture_modes: int
    intensity_capture: bool
    intensity_roi_mm: float
    restarts: bool
    landmark_sd_px: float
    symmetric_weight: float
    roi_margin_mm: float
    search: bool
    search_translation_mm: float
    search_rotation_deg: float
    max_median_residual_px: float
    max_mahalanobis: float
    max_pose_change_mm: float
    max_view_residual_ratio: float
    def __init__(self) -> None: ...

class FitResult:
    @property
    def mesh(self) -> TriangleMesh: ...  # with scalars["posterior_std_mm"]
    @property
    def pose(self) -> Pose: ...
    @property
    def initial_pose(self) -> Pose: ...
    @property
    def coefficients(self) -> _Float64: ...  # (K,)
    @property
    def start(self) -> Literal["given_pose", "landmarks", "search"]: ...
    @property
    def landmarks_used(self) -> List[str]: ...
    @property
    def initial_cost(self) -> float: ...
    @property
    def final_cost(self) -> float: ...
    @property
    def iterations(self) -> int: ...
    @property
    def solves(self) -> int: ...
    @property
    def restarts(self) -> int: ...
    @property
    def seconds(self) -> float: ...
    @property
    def mahalanobis(self) -> float: ...
    @property
    def edge_noise_px(self) -> float: ...
    @property
    def views(self) -> List[Dict[str, Any]]: ...
    @property
    def flags(self) -> Dict[str, Dict[str, Any]]: ...
    @property
    def ok(self) -> bool: ...
    @property
    def initial_contours(self) -> List[_Float64]: ...  # (n, 2) per view, pixels
    @property
    def final_contours(self) -> List[_Float64]: ...
    def summary_json(self) -> str: ...

def fit_shape_model(
    model: ShapeModel,
    views: Sequence[FitView],
    *,
    landmarks: Optional[_Landmarks2d] = ...,
    pose: Optional[Pose] = ...,
    options: Optional[FitOptions] = ...,
    progress: Optional[_Progress] = ...,
) -> FitResult: ...
def render_fit_overlay_png(
    view: FitView, initial: Sequence[Sequence[float]], fitted: Sequence[Sequence[float]]
) -> bytes: ...
