"""Renders docs/images/correspondence_vsd.png: a reference femur, its
correspondence on another femur (same per-vertex colours) and the distance of
the target to the result.

    ssmx correspond --reference VSD001_femur.vtk --out /tmp/corr VSD002_femur.vtk
    PYTHONPATH=build/python /usr/bin/python3 docs/images/render_correspondence.py \
        VSD001_femur.vtk /tmp/corr/VSD002_femur.vtk VSD002_femur.vtk docs/images/correspondence_vsd.png
"""

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from mpl_toolkits.mplot3d.art3d import Poly3DCollection  # noqa: E402

import ssmx  # noqa: E402


def pattern_colours(vertices):
    """A smooth, non-repeating colour per reference vertex: bands along the
    long axis crossed by bands around it, so sliding shows as a shifted band."""
    centred = vertices - vertices.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    along = centred @ axes[0]
    around = np.arctan2(centred @ axes[2], centred @ axes[1])
    hue = (along - along.min()) / np.ptp(along)
    stripes = 0.5 + 0.5 * np.sign(np.sin(along / 8.0)) * np.sign(np.sin(4 * around))
    rgb = matplotlib.colormaps["turbo"](hue)[:, :3]
    return rgb * (0.5 + 0.5 * stripes[:, None])


def draw(ax, mesh, vertex_rgb, title, azim, keep=None):
    """Flat-shaded faces coloured by the mean of their vertex colours; `keep`
    (per vertex, bool) restricts the drawing to faces whose corners all pass."""
    v, f = mesh.vertices, mesh.faces
    if keep is not None:
        f = f[keep[f].all(axis=1)]
    tri = v[f]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals /= np.linalg.norm(normals, axis=1, keepdims=True) + 1e-12
    eye = np.array([np.cos(np.radians(azim)), np.sin(np.radians(azim)), 0.3])
    shade = 0.35 + 0.65 * np.clip(normals @ (eye / np.linalg.norm(eye)), 0, 1)
    rgb = vertex_rgb[f].mean(axis=1) * shade[:, None]
    ax.add_collection3d(Poly3DCollection(tri, facecolors=rgb, edgecolors="none"))
    used = v[np.unique(f)]
    lo, hi = used.min(axis=0), used.max(axis=0)
    centre, half = (lo + hi) / 2, (hi - lo).max() / 2
    for setter, c in zip((ax.set_xlim, ax.set_ylim, ax.set_zlim), centre):
        setter(c - half, c + half)
    ax.set_box_aspect((1, 1, 1))
    ax.view_init(elev=5, azim=azim)
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)


def main(reference_path, output_path, target_path, png):
    ssm = ssmx.ssm
    reference, output, target = (ssm.read_mesh(p) for p in (reference_path, output_path, target_path))
    colours = pattern_colours(reference.vertices)
    d = ssm.compute_surface_distance(target, output, compute_dice=False)
    dist = np.abs(d.signed_distance_a_mm)
    heat = matplotlib.colormaps["magma_r"](np.clip(dist / 1.0, 0, 1))[:, :3]
    fig = plt.figure(figsize=(12, 12), dpi=100)
    # LPS: the anterior view looks from -y (azimuth -90), the posterior from +y.
    top = lambda m: m.vertices[:, 2] > np.percentile(m.vertices[:, 2], 75)  # noqa: E731
    rows = [("whole bone, anterior", -90, None), ("proximal quarter, posterior", 90, top)]
    for row, (view, azim, part) in enumerate(rows):
        draw(fig.add_subplot(2, 3, 3 * row + 1, projection="3d"), reference, colours,
             f"reference VSD001 ({view})", azim, part(reference) if part else None)
        draw(fig.add_subplot(2, 3, 3 * row + 2, projection="3d"), output, colours,
             "output: VSD001's vertices on VSD002", azim, part(output) if part else None)
        draw(fig.add_subplot(2, 3, 3 * row + 3, projection="3d"), target, heat,
             f"VSD002 to output, |d| 0 (light) - 1 mm (dark)\nmean {d.a_to_b.mean_mm:.2f} mm, "
             f"max {dist.max():.1f} mm", azim, part(target) if part else None)
    fig.tight_layout()
    fig.savefig(png)


if __name__ == "__main__":
    main(*sys.argv[1:5])
