#ifndef SSMX_AR_EXPORT_USDZ_WRITER_H_
#define SSMX_AR_EXPORT_USDZ_WRITER_H_

#include <string>

#include "ssmx/ar_export/scene.h"

namespace ssmx::ar_export {

// The flattened USD layer (usda text) of a scene: metersPerUnit = 1,
// upAxis = "Y", defaultPrim "Model" (an Xform of kind component); one Mesh per
// structure (points, faceVertexCounts, faceVertexIndices, vertex normals,
// extent, subdivisionScheme "none", orientation rightHanded) bound to its own
// UsdPreviewSurface material.
//
// Heat maps: AR Quick Look ignores vertex colours (displayColor), so a
// structure covered by the heat map gets a texture coordinate per vertex,
// primvars:st = ((0.5 + 255 t) / 256, 0.5) with t the normalised scalar, and
// its material reads the baked colormap texture `texture_path` (a 256 by 4
// sRGB PNG, see ColormapPng) through UsdUVTexture with clamp wrapping. Texel
// centres sit exactly on the 256 table entries, so the GPU's linear filtering
// reproduces the colormap's own interpolation.
std::string UsdaText(const Scene& scene, const std::string& texture_path = "textures/colormap.png");

// The colormap texture used for heat maps: 256 by 4 pixels, 8-bit sRGB PNG,
// column k = table entry k.
std::string ColormapPng(Colormap colormap);

// A USDZ package: an uncompressed zip whose first entry is model.usda (the
// layer above) followed by textures/colormap.png when there is a heat map;
// every file's data starts at a multiple of 64 bytes (the USDZ rules for AR
// Quick Look). Byte-for-byte reproducible (fixed timestamps).
std::string UsdzBytes(const Scene& scene);

// Writes UsdzBytes atomically to `path`. Throws IoError when it cannot.
void WriteUsdz(const Scene& scene, const std::string& path);

}  // namespace ssmx::ar_export

#endif  // SSMX_AR_EXPORT_USDZ_WRITER_H_
