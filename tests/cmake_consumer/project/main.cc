// Builds a mesh and a volume through the installed headers and library and
// checks a result known by hand, so a broken install fails loudly.
#include <cmath>
#include <cstdio>

#include "ssmx/core/triangle_mesh.h"
#include "ssmx/core/version.h"
#include "ssmx/core/volume.h"
#include "ssmx/ssm/primitives.h"

int main() {
  const ssmx::TriangleMesh sphere = ssmx::ssm::MakeIcosphere(10.0, 3);
  const ssmx::MeshCheck check = ssmx::CheckMesh(sphere);
  ssmx::VolumeGeometry g;
  g.size = Eigen::Vector3i(4, 4, 4);
  g.spacing_mm = Eigen::Vector3d(2, 2, 2);
  const Eigen::Vector3d p = g.IndexToWorld(Eigen::Vector3d(1, 2, 3));
  const bool ok = check.watertight() && sphere.num_vertices() == 642 &&
                  std::abs(p.x() - 2) + std::abs(p.y() - 4) + std::abs(p.z() - 6) < 1e-12;
  std::printf("ssmx %s consumer: %s\n", ssmx::Version(), ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
