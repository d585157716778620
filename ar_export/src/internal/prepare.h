#ifndef SSMX_AR_EXPORT_INTERNAL_PREPARE_H_
#define SSMX_AR_EXPORT_INTERNAL_PREPARE_H_

#include <Eigen/Core>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ssmx/ar_export/scene.h"

namespace ssmx::ar_export::internal {

using MatrixX3fR = Eigen::Matrix<float, Eigen::Dynamic, 3, Eigen::RowMajor>;

// A structure ready for the AR writers: in the AR frame (metres, +Y up), as
// float32, with unit normals and the normalised heat-map value per vertex.
struct PreparedStructure {
  std::string name;        // as given
  std::string identifier;  // [A-Za-z_][A-Za-z0-9_]*, unique in the scene (USD prims, OBJ/MTL names)
  std::string side;
  Eigen::Vector3d color_srgb;
  MatrixX3fR positions;      // #V by 3, metres, AR frame
  MatrixX3fR normals;        // #V by 3, unit length
  MatrixX3iR faces;          // #F by 3
  bool heat = false;         // the heat map covers this structure
  Eigen::VectorXf t;         // #V normalised scalar in [0, 1] when heat
  Eigen::Vector3f min, max;  // bounds of positions (exactly the float values)
};

struct PreparedScene {
  std::vector<PreparedStructure> structures;
  Eigen::Vector3d min, max;  // bounds over all structures, metres, AR frame
  Eigen::Vector3d
      root_translation;  // applied by the root node / Xform (zero unless place_on_origin)
  bool heat = false;
  HeatMap heat_map;
  Eigen::Vector2d range{0, 0};  // heat-map range after defaults
};

// Validates (ValidateScene) and converts every structure with ToArFrame.
PreparedScene Prepare(const Scene& scene);

// The anonymous metadata written into every AR file and the viewer's
// scene.json: generator, version, units, frame conversion, structures (name,
// side, colour), bounding box in mm and the heat-map legend.
nlohmann::json MetadataJson(const PreparedScene& scene);

// u coordinate of the colormap texture for a normalised value t: texel
// centres of the 256-wide texture sit on the 256 table entries.
inline float TextureU(float t) { return (0.5f + 255.0f * t) / 256.0f; }

}  // namespace ssmx::ar_export::internal

#endif  // SSMX_AR_EXPORT_INTERNAL_PREPARE_H_
