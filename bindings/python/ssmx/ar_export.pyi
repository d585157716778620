# Type stubs of ssmx.ar_export. Meshes in LPS mm; AR files in metres, +Y superior, +Z anterior.
from typing import List, Literal, Optional, Sequence, Union, overload

import numpy as np
import numpy.typing as npt

from . import TriangleMesh

_Float64 = npt.NDArray[np.float64]
_Colormap = Literal["viridis", "magma", "inferno", "plasma"]

METRES_PER_MILLIMETRE: float

def colormap_names() -> List[str]: ...
@overload
def sample_colormap(name: _Colormap, t: float) -> _Float64: ...  # (3,)
@overload
def sample_colormap(name: _Colormap, t: _Float64) -> _Float64: ...  # (N,) -> (N, 3)
def parse_color(text: str) -> _Float64: ...  # (3,) sRGB 0..1
def color_hex(srgb: Union[Sequence[float], _Float64]) -> str: ...
def srgb_to_linear(c: npt.ArrayLike) -> Union[float, _Float64]: ...
def linear_to_srgb(c: npt.ArrayLike) -> Union[float, _Float64]: ...

class HeatMap:
    scalar: str
    colormap: _Colormap
    min: float
    max: float
    units: str
    def __init__(
        self,
        scalar: str,
        colormap: _Colormap = ...,
        min: float = ...,
        max: float = ...,
        units: str = ...,
    ) -> None: ...

class Structure:
    name: str
    mesh: TriangleMesh
    color_srgb: _Float64  # (3,) sRGB 0..1
    side: str
    def __init__(
        self,
        name: str,
        mesh: TriangleMesh,
        color_srgb: Union[Sequence[float], _Float64] = ...,
        side: Optional[str] = ...,
    ) -> None: ...

class Scene:
    structures: List[Structure]
    heat_map: Optional[HeatMap]
    place_on_origin: bool
    def __init__(
        self,
        structures: Optional[List[Structure]] = ...,
        heat_map: Optional[HeatMap] = ...,
        place_on_origin: bool = ...,
    ) -> None: ...

def infer_side(name: str) -> str: ...
def default_structure_color(index: int) -> _Float64: ...
def validate_scene(scene: Scene) -> None: ...
def heat_map_range(scene: Scene) -> _Float64: ...  # (2,)
def ar_from_lps() -> _Float64: ...  # (3, 3)
def to_ar_frame(mesh_lps_mm: TriangleMesh) -> TriangleMesh: ...
def glb_bytes(scene: Scene) -> bytes: ...
def write_glb(scene: Scene, path: str) -> None: ...
def usda_text(scene: Scene, texture_path: str = ...) -> str: ...
def colormap_png(name: _Colormap) -> bytes: ...
def usdz_bytes(scene: Scene) -> bytes: ...
def write_usdz(scene: Scene, path: str) -> None: ...
def write_obj(scene: Scene, obj_path: str) -> List[str]: ...
def merge_structures(scene: Scene) -> TriangleMesh: ...
def decimate_for_ar(mesh_lps_mm: TriangleMesh, target_faces: int) -> TriangleMesh: ...
def decimate_scene(scene: Scene, total_faces: int) -> Scene: ...
def find_viewer_assets() -> str: ...
def write_viewer(scene: Scene, dir: str, assets_dir: str = ..., title: str = ...) -> List[str]: ...

class ExportedFile:
    @property
    def path(self) -> str: ...
    @property
    def format(self) -> str: ...
    @property
    def bytes(self) -> int: ...
    @property
    def seconds(self) -> float: ...
    @property
    def faces(self) -> int: ...

def export_scene(
    scene: Scene,
    *,
    glb: str = ...,
    usdz: str = ...,
    obj: str = ...,
    stl: str = ...,
    ply: str = ...,
    viewer_dir: str = ...,
    target_faces: int = ...,
    viewer_title: str = ...,
) -> List[ExportedFile]: ...
