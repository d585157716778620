// STL, PLY and OBJ read and written here (simple formats where a reader of our
// own gives exact error messages and cannot be driven past the end of a
// buffer); legacy VTK and VTP through VTK (mesh_io_vtk.cc).
#include "ssmx/ssm/mesh_io.h"

#include <Eigen/Geometry>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "internal/atomic_file.h"
#include "internal/mesh_io_vtk.h"
#include "ssmx/core/atomic_write.h"
#include "ssmx/core/error.h"
#include "ssmx/core/version.h"

namespace ssmx::ssm {
namespace fs = std::filesystem;
namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string ExtensionOf(const std::string& path) { return Lower(fs::path(path).extension().string()); }

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open the file (missing or no permission)");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// ---- STL ----------------------------------------------------------------

// Welds corners with bit-identical float coordinates into one vertex, as
// VTK's STL reader does (vtkMergePoints), and drops the triangles that merging
// makes degenerate.
class StlBuilder {
 public:
  void AddTriangle(const float corners[9]) {
    int32_t ids[3];
    for (int c = 0; c < 3; ++c) ids[c] = Vertex(corners + 3 * c);
    if (ids[0] == ids[1] || ids[1] == ids[2] || ids[0] == ids[2]) {
      ++dropped_;
      return;
    }
    faces_.insert(faces_.end(), ids, ids + 3);
  }
  TriangleMesh Finish(MeshReadReport* report) {
    TriangleMesh mesh;
    mesh.vertices.resize(static_cast<Eigen::Index>(vertices_.size() / 3), 3);
    for (size_t i = 0; i < vertices_.size(); ++i) mesh.vertices.data()[i] = vertices_[i];
    mesh.faces = Eigen::Map<MatrixX3iR>(faces_.data(), static_cast<Eigen::Index>(faces_.size() / 3), 3);
    if (report) {
      report->degenerate_faces_removed = dropped_;
      if (dropped_) report->notes.push_back(std::to_string(dropped_) + " degenerate triangles dropped");
    }
    return mesh;
  }

 private:
  struct Key {
    uint32_t x, y, z;
    bool operator==(const Key& o) const { return x == o.x && y == o.y && z == o.z; }
  };
  struct Hash {
    size_t operator()(const Key& k) const {
      return (static_cast<size_t>(k.x) * 73856093u) ^ (static_cast<size_t>(k.y) * 19349663u) ^
             (static_cast<size_t>(k.z) * 83492791u);
    }
  };
  int32_t Vertex(const float* p) {
    Key key;
    // +0.0f turns -0.0 into 0.0 so both weld, as a coordinate comparison would.
    const float x = p[0] + 0.0f, y = p[1] + 0.0f, z = p[2] + 0.0f;
    std::memcpy(&key.x, &x, 4);
    std::memcpy(&key.y, &y, 4);
    std::memcpy(&key.z, &z, 4);
    auto [it, inserted] = index_.emplace(key, static_cast<int32_t>(vertices_.size() / 3));
    if (inserted) vertices_.insert(vertices_.end(), {p[0], p[1], p[2]});
    return it->second;
  }
  std::unordered_map<Key, int32_t, Hash> index_;
  std::vector<double> vertices_;
  std::vector<int32_t> faces_;
  int64_t dropped_ = 0;
};

TriangleMesh ReadStl(const std::string& path, const std::string& bytes, MeshReadReport* report) {
  StlBuilder builder;
  const bool size_matches_binary =
      bytes.size() >= 84 && [&] {
        uint32_t n;
        std::memcpy(&n, bytes.data() + 80, 4);
        return bytes.size() == 84 + 50ull * n;
      }();
  const bool starts_solid = bytes.compare(0, 5, "solid") == 0;
  if (size_matches_binary || !starts_solid) {
    if (bytes.size() < 84) {
      throw InvalidInput(path + ": " + std::to_string(bytes.size()) +
                         " bytes is too short for a binary STL (84-byte header) and it is not "
                         "ASCII STL (no \"solid\")");
    }
    uint32_t n;
    std::memcpy(&n, bytes.data() + 80, 4);
    if (bytes.size() < 84 + 50ull * n) {
      throw InvalidInput(path + ": binary STL header declares " + std::to_string(n) +
                         " triangles (" + std::to_string(84 + 50ull * n) + " bytes) but the file has " +
                         std::to_string(bytes.size()) + " bytes; it is truncated");
    }
    if (n == 0) throw InvalidInput(path + ": the STL file holds no triangles");
    for (uint32_t t = 0; t < n; ++t) {
      float corners[9];
      std::memcpy(corners, bytes.data() + 84 + 50ull * t + 12, 36);
      builder.AddTriangle(corners);
    }
    if (report) report->format = "STL (binary)";
    return builder.Finish(report);
  }
  // ASCII: facet normal .. outer loop, vertex x y z (x3), endloop, endfacet.
  std::istringstream in(bytes);
  std::string line;
  int line_no = 0, corner = 0;
  float corners[9];
  while (std::getline(in, line)) {
    ++line_no;
    std::istringstream words(line);
    std::string word;
    if (!(words >> word) || Lower(word) != "vertex") continue;
    double x, y, z;
    if (!(words >> x >> y >> z) || !std::isfinite(x) || !std::isfinite(y) || !std::isfinite(z)) {
      throw InvalidInput(path + ": line " + std::to_string(line_no) +
                         ": \"vertex\" needs three finite numbers");
    }
    corners[3 * corner] = static_cast<float>(x);
    corners[3 * corner + 1] = static_cast<float>(y);
    corners[3 * corner + 2] = static_cast<float>(z);
    if (++corner == 3) {
      builder.AddTriangle(corners);
      corner = 0;
    }
  }
  if (corner != 0) throw InvalidInput(path + ": ASCII STL ends inside a facet (truncated file)");
  TriangleMesh mesh = builder.Finish(report);
  if (mesh.num_faces() == 0) throw InvalidInput(path + ": the STL file holds no triangles");
  if (report) report->format = "STL (ASCII)";
  return mesh;
}

// ---- PLY ----------------------------------------------------------------

enum class PlyType { kInt8, kUint8, kInt16, kUint16, kInt32, kUint32, kFloat32, kFloat64 };

bool ParsePlyType(const std::string& name, PlyType* type) {
  static const std::pair<const char*, PlyType> kNames[] = {
      {"char", PlyType::kInt8},     {"int8", PlyType::kInt8},      {"uchar", PlyType::kUint8},
      {"uint8", PlyType::kUint8},   {"short", PlyType::kInt16},    {"int16", PlyType::kInt16},
      {"ushort", PlyType::kUint16}, {"uint16", PlyType::kUint16},  {"int", PlyType::kInt32},
      {"int32", PlyType::kInt32},   {"uint", PlyType::kUint32},    {"uint32", PlyType::kUint32},
      {"float", PlyType::kFloat32}, {"float32", PlyType::kFloat32}, {"double", PlyType::kFloat64},
      {"float64", PlyType::kFloat64}};
  for (const auto& [n, t] : kNames) {
    if (name == n) {
      *type = t;
      return true;
    }
  }
  return false;
}

size_t PlySize(PlyType t) {
  switch (t) {
    case PlyType::kInt8: case PlyType::kUint8: return 1;
    case PlyType::kInt16: case PlyType::kUint16: return 2;
    case PlyType::kInt32: case PlyType::kUint32: case PlyType::kFloat32: return 4;
    case PlyType::kFloat64: return 8;
  }
  return 0;
}

struct PlyProperty {
  std::string name;
  PlyType type = PlyType::kFloat32;
  bool is_list = false;
  PlyType count_type = PlyType::kUint8;
};

struct PlyElement {
  std::string name;
  uint64_t count = 0;
  std::vector<PlyProperty> properties;
};

// Sequential reader over the body of a PLY file in any of its three encodings.
class PlyBody {
 public:
  PlyBody(const std::string& path, const std::string& bytes, size_t offset, int format)
      : path_(path), bytes_(bytes), pos_(offset), format_(format) {}

  double Read(PlyType type) {
    if (format_ == 0) return ReadAscii();
    const size_t n = PlySize(type);
    if (pos_ + n > bytes_.size()) {
      throw InvalidInput(path_ + ": PLY data ends early (the header declares more elements than the "
                         "file holds); the file is truncated");
    }
    unsigned char raw[8];
    std::memcpy(raw, bytes_.data() + pos_, n);
    pos_ += n;
    if (format_ == 2) std::reverse(raw, raw + n);  // big endian on a little-endian host
    switch (type) {
      case PlyType::kInt8: { int8_t v; std::memcpy(&v, raw, 1); return v; }
      case PlyType::kUint8: { uint8_t v; std::memcpy(&v, raw, 1); return v; }
      case PlyType::kInt16: { int16_t v; std::memcpy(&v, raw, 2); return v; }
      case PlyType::kUint16: { uint16_t v; std::memcpy(&v, raw, 2); return v; }
      case PlyType::kInt32: { int32_t v; std::memcpy(&v, raw, 4); return v; }
      case PlyType::kUint32: { uint32_t v; std::memcpy(&v, raw, 4); return v; }
      case PlyType::kFloat32: { float v; std::memcpy(&v, raw, 4); return v; }
      case PlyType::kFloat64: { double v; std::memcpy(&v, raw, 8); return v; }
    }
    return 0.0;
  }
  size_t remaining() const { return bytes_.size() - pos_; }

 private:
  double ReadAscii() {
    while (pos_ < bytes_.size() && std::isspace(static_cast<unsigned char>(bytes_[pos_]))) ++pos_;
    if (pos_ >= bytes_.size()) {
      throw InvalidInput(path_ + ": PLY data ends early (the header declares more elements than the "
                         "file holds); the file is truncated");
    }
    const char* start = bytes_.data() + pos_;
    char* end = nullptr;
    const double v = std::strtod(start, &end);
    if (end == start) {
      throw InvalidInput(path_ + ": PLY data holds \"" +
                         std::string(start, std::min<size_t>(16, bytes_.size() - pos_)) +
                         "\" where a number is expected");
    }
    pos_ += static_cast<size_t>(end - start);
    return v;
  }
  const std::string& path_;
  const std::string& bytes_;
  size_t pos_;
  int format_;  // 0 ascii, 1 binary little endian, 2 binary big endian
};

TriangleMesh ReadPly(const std::string& path, const std::string& bytes, MeshReadReport* report) {
  const size_t header_end = bytes.find("end_header");
  if (bytes.compare(0, 3, "ply") != 0 || header_end == std::string::npos) {
    throw InvalidInput(path + ": not a PLY file (no \"ply\" magic or no \"end_header\")");
  }
  size_t body = bytes.find('\n', header_end);
  if (body == std::string::npos) throw InvalidInput(path + ": PLY header is not terminated by a newline");
  ++body;
  std::istringstream header(bytes.substr(0, header_end));
  std::string line, format_name;
  std::vector<PlyElement> elements;
  int format = -1;
  while (std::getline(header, line)) {
    std::istringstream words(line);
    std::string keyword;
    words >> keyword;
    if (keyword == "format") {
      words >> format_name;
      if (format_name == "ascii") format = 0;
      else if (format_name == "binary_little_endian") format = 1;
      else if (format_name == "binary_big_endian") format = 2;
      else throw InvalidInput(path + ": unknown PLY format \"" + format_name + "\"");
    } else if (keyword == "element") {
      PlyElement e;
      long long count = -1;
      words >> e.name >> count;
      if (count < 0) throw InvalidInput(path + ": PLY element \"" + e.name + "\" has no valid count");
      e.count = static_cast<uint64_t>(count);
      elements.push_back(e);
    } else if (keyword == "property") {
      if (elements.empty()) throw InvalidInput(path + ": PLY property before any element");
      PlyProperty p;
      std::string type;
      words >> type;
      if (type == "list") {
        std::string count_type, item_type;
        words >> count_type >> item_type >> p.name;
        p.is_list = true;
        if (!ParsePlyType(count_type, &p.count_type) || !ParsePlyType(item_type, &p.type)) {
          throw InvalidInput(path + ": unknown PLY list types \"" + count_type + " " + item_type + "\"");
        }
      } else {
        words >> p.name;
        if (!ParsePlyType(type, &p.type)) throw InvalidInput(path + ": unknown PLY type \"" + type + "\"");
      }
      elements.back().properties.push_back(p);
    }
  }
  if (format < 0) throw InvalidInput(path + ": PLY header has no format line");
  if (report) report->format = "PLY (" + format_name + ")";

  TriangleMesh mesh;
  std::vector<int32_t> faces;
  PlyBody in(path, bytes, body, format);
  bool have_vertices = false;
  for (const PlyElement& e : elements) {
    // Each element takes at least one byte per record in any encoding: refuse
    // a count the file cannot hold before allocating for it.
    size_t min_record = 0;
    for (const PlyProperty& p : e.properties) min_record += p.is_list ? PlySize(p.count_type) : PlySize(p.type);
    if (format == 0) min_record = e.properties.empty() ? 0 : 2 * e.properties.size();
    if (e.count > 0 && min_record > 0 && e.count > in.remaining() / min_record) {
      throw InvalidInput(path + ": PLY header declares " + std::to_string(e.count) + " " + e.name +
                         " records, more than the file can hold; it is truncated or corrupt");
    }
    if (e.name == "vertex") {
      have_vertices = true;
      const auto n = static_cast<Eigen::Index>(e.count);
      mesh.vertices.resize(n, 3);
      int axes = 0, normal_axes = 0;
      std::vector<std::pair<int, Eigen::VectorXd*>> scalar_slots;
      for (const PlyProperty& p : e.properties) {
        if (p.name == "x" || p.name == "y" || p.name == "z") ++axes;
        if (p.name == "nx" || p.name == "ny" || p.name == "nz") ++normal_axes;
      }
      if (axes != 3) throw InvalidInput(path + ": PLY vertices lack x, y and z properties");
      if (normal_axes == 3) mesh.normals.resize(n, 3);
      for (Eigen::Index v = 0; v < n; ++v) {
        for (const PlyProperty& p : e.properties) {
          if (p.is_list) {
            const auto count = static_cast<int64_t>(in.Read(p.count_type));
            for (int64_t k = 0; k < count; ++k) in.Read(p.type);
            continue;
          }
          const double value = in.Read(p.type);
          if (p.name == "x") mesh.vertices(v, 0) = value;
          else if (p.name == "y") mesh.vertices(v, 1) = value;
          else if (p.name == "z") mesh.vertices(v, 2) = value;
          else if (normal_axes == 3 && p.name == "nx") mesh.normals(v, 0) = value;
          else if (normal_axes == 3 && p.name == "ny") mesh.normals(v, 1) = value;
          else if (normal_axes == 3 && p.name == "nz") mesh.normals(v, 2) = value;
          else {
            Eigen::VectorXd& s = mesh.scalars[p.name];
            if (s.size() != n) s.setZero(n);
            s[v] = value;
          }
        }
      }
    } else if (e.name == "face") {
      int64_t triangulated = 0;
      for (uint64_t f = 0; f < e.count; ++f) {
        for (const PlyProperty& p : e.properties) {
          if (!p.is_list) {
            in.Read(p.type);
            continue;
          }
          const double count_value = in.Read(p.count_type);
          if (count_value < 0 || count_value > 1e6) {
            throw InvalidInput(path + ": PLY face " + std::to_string(f) + " declares " +
                               std::to_string(static_cast<int64_t>(count_value)) + " corners");
          }
          const auto count = static_cast<int64_t>(count_value);
          std::vector<double> corners(static_cast<size_t>(count));
          for (int64_t k = 0; k < count; ++k) corners[k] = in.Read(p.type);
          if (p.name != "vertex_indices" && p.name != "vertex_index") continue;
          if (count < 3) continue;
          if (count > 3) ++triangulated;
          for (int64_t k = 1; k + 1 < count; ++k) {
            for (double c : {corners[0], corners[k], corners[k + 1]}) {
              if (c < -2147483648.0 || c > 2147483647.0 || c != std::floor(c)) {
                throw InvalidInput(path + ": PLY face " + std::to_string(f) +
                                   " holds an invalid vertex index " + std::to_string(c));
              }
              faces.push_back(static_cast<int32_t>(c));
            }
          }
        }
      }
      if (report && triangulated) {
        report->polygons_triangulated = triangulated;
        report->notes.push_back(std::to_string(triangulated) + " polygons fan-triangulated");
      }
    } else {
      for (uint64_t r = 0; r < e.count; ++r) {
        for (const PlyProperty& p : e.properties) {
          const int64_t count = p.is_list ? static_cast<int64_t>(in.Read(p.count_type)) : 1;
          for (int64_t k = 0; k < count; ++k) in.Read(p.type);
        }
      }
    }
  }
  if (!have_vertices) throw InvalidInput(path + ": PLY file has no vertex element");
  mesh.faces = Eigen::Map<MatrixX3iR>(faces.data(), static_cast<Eigen::Index>(faces.size() / 3), 3);
  return mesh;
}

// ---- OBJ ----------------------------------------------------------------

TriangleMesh ReadObj(const std::string& path, const std::string& bytes, MeshReadReport* report) {
  std::istringstream in(bytes);
  std::string line;
  std::vector<double> vertices;
  std::vector<int32_t> faces;
  int64_t line_no = 0, triangulated = 0;
  while (std::getline(in, line)) {
    ++line_no;
    std::istringstream words(line);
    std::string keyword;
    if (!(words >> keyword)) continue;
    if (keyword == "v") {
      double x, y, z;
      if (!(words >> x >> y >> z)) {
        throw InvalidInput(path + ": line " + std::to_string(line_no) + ": \"v\" needs three numbers");
      }
      vertices.insert(vertices.end(), {x, y, z});
    } else if (keyword == "f") {
      std::vector<int32_t> corners;
      std::string token;
      const int64_t nv = static_cast<int64_t>(vertices.size() / 3);
      while (words >> token) {
        const std::string first = token.substr(0, token.find('/'));
        char* end = nullptr;
        const long long index = std::strtoll(first.c_str(), &end, 10);
        if (first.empty() || *end != '\0' || index == 0) {
          throw InvalidInput(path + ": line " + std::to_string(line_no) + ": bad face corner \"" +
                             token + "\"");
        }
        // OBJ indices are 1-based; negative ones count back from the last vertex.
        const long long zero_based = index > 0 ? index - 1 : nv + index;
        if (zero_based < 0 || zero_based >= nv) {
          throw InvalidInput(path + ": line " + std::to_string(line_no) + ": face refers to vertex " +
                             std::to_string(index) + " but only " + std::to_string(nv) +
                             " vertices are defined before it");
        }
        corners.push_back(static_cast<int32_t>(zero_based));
      }
      if (corners.size() < 3) {
        throw InvalidInput(path + ": line " + std::to_string(line_no) + ": a face needs 3 corners");
      }
      if (corners.size() > 3) ++triangulated;
      for (size_t k = 1; k + 1 < corners.size(); ++k) {
        faces.insert(faces.end(), {corners[0], corners[k], corners[k + 1]});
      }
    }
  }
  TriangleMesh mesh;
  mesh.vertices.resize(static_cast<Eigen::Index>(vertices.size() / 3), 3);
  std::copy(vertices.begin(), vertices.end(), mesh.vertices.data());
  mesh.faces = Eigen::Map<MatrixX3iR>(faces.data(), static_cast<Eigen::Index>(faces.size() / 3), 3);
  if (report) {
    report->format = "OBJ";
    report->polygons_triangulated = triangulated;
    if (triangulated) report->notes.push_back(std::to_string(triangulated) + " polygons fan-triangulated");
  }
  return mesh;
}

// ---- writers ------------------------------------------------------------

Eigen::Vector3d FaceNormal(const TriangleMesh& mesh, Eigen::Index f) {
  const Eigen::Vector3d a = mesh.vertices.row(mesh.faces(f, 0));
  const Eigen::Vector3d b = mesh.vertices.row(mesh.faces(f, 1));
  const Eigen::Vector3d c = mesh.vertices.row(mesh.faces(f, 2));
  const Eigen::Vector3d n = (b - a).cross(c - a);
  const double norm = n.norm();
  return norm > 0 ? Eigen::Vector3d(n / norm) : Eigen::Vector3d::Zero();
}

std::string StlBytes(const TriangleMesh& mesh, StlEncoding encoding) {
  std::string out;
  if (encoding == StlEncoding::kAscii) {
    std::ostringstream s;
    s.precision(9);
    s << "solid ssmx\n";
    for (Eigen::Index f = 0; f < mesh.num_faces(); ++f) {
      const Eigen::Vector3d n = FaceNormal(mesh, f);
      s << "facet normal " << n.x() << ' ' << n.y() << ' ' << n.z() << "\n outer loop\n";
      for (int c = 0; c < 3; ++c) {
        const auto v = mesh.vertices.row(mesh.faces(f, c)).cast<float>();
        s << "  vertex " << v(0) << ' ' << v(1) << ' ' << v(2) << '\n';
      }
      s << " endloop\nendfacet\n";
    }
    s << "endsolid ssmx\n";
    return s.str();
  }
  out.assign(84 + 50 * static_cast<size_t>(mesh.num_faces()), '\0');
  const std::string title = std::string("binary STL written by ssmx ") + SSMX_VERSION_STRING + ", LPS mm";
  std::memcpy(&out[0], title.data(), std::min<size_t>(title.size(), 80));
  const auto n = static_cast<uint32_t>(mesh.num_faces());
  std::memcpy(&out[80], &n, 4);
  for (Eigen::Index f = 0; f < mesh.num_faces(); ++f) {
    float record[12];
    const Eigen::Vector3d normal = FaceNormal(mesh, f);
    for (int k = 0; k < 3; ++k) record[k] = static_cast<float>(normal[k]);
    for (int c = 0; c < 3; ++c) {
      for (int k = 0; k < 3; ++k) record[3 + 3 * c + k] = static_cast<float>(mesh.vertices(mesh.faces(f, c), k));
    }
    std::memcpy(&out[84 + 50 * static_cast<size_t>(f)], record, 48);
  }
  return out;
}

// Scalars with these names are colour channels (0..255) and are stored as
// uchar properties, which viewers (MeshLab, ParaView, Blender) show as colours.
bool IsPlyColor(const std::string& name) {
  return name == "red" || name == "green" || name == "blue" || name == "alpha";
}

std::string PlyName(std::string name) {
  for (char& c : name) {
    if (std::isspace(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

template <typename T>
void Append(std::string* out, T value) {
  out->append(reinterpret_cast<const char*>(&value), sizeof(T));
}

std::string PlyBytes(const TriangleMesh& mesh, const MeshWriteOptions& options) {
  const bool normals = options.write_normals && mesh.normals.rows() == mesh.num_vertices() && !mesh.empty();
  std::ostringstream header;
  header << "ply\nformat binary_little_endian 1.0\ncomment written by ssmx " << SSMX_VERSION_STRING
         << ", units mm, frame LPS\nelement vertex " << mesh.num_vertices()
         << "\nproperty double x\nproperty double y\nproperty double z\n";
  if (normals) header << "property float nx\nproperty float ny\nproperty float nz\n";
  if (options.write_scalars) {
    for (const auto& entry : mesh.scalars) {
      header << "property " << (IsPlyColor(entry.first) ? "uchar " : "float ") << PlyName(entry.first) << '\n';
    }
  }
  header << "element face " << mesh.num_faces() << "\nproperty list uchar int vertex_indices\nend_header\n";
  std::string out = header.str();
  for (Eigen::Index v = 0; v < mesh.num_vertices(); ++v) {
    for (int k = 0; k < 3; ++k) Append(&out, mesh.vertices(v, k));
    if (normals) {
      for (int k = 0; k < 3; ++k) Append(&out, static_cast<float>(mesh.normals(v, k)));
    }
    if (options.write_scalars) {
      for (const auto& entry : mesh.scalars) {
        if (IsPlyColor(entry.first)) {
          Append(&out, static_cast<uint8_t>(std::clamp(std::round(entry.second[v]), 0.0, 255.0)));
        } else {
          Append(&out, static_cast<float>(entry.second[v]));
        }
      }
    }
  }
  for (Eigen::Index f = 0; f < mesh.num_faces(); ++f) {
    Append(&out, static_cast<uint8_t>(3));
    for (int c = 0; c < 3; ++c) Append(&out, mesh.faces(f, c));
  }
  return out;
}

std::string ObjBytes(const TriangleMesh& mesh, const MeshWriteOptions& options) {
  const bool normals = options.write_normals && mesh.normals.rows() == mesh.num_vertices() && !mesh.empty();
  std::string out = std::string("# written by ssmx ") + SSMX_VERSION_STRING + ", units mm, frame LPS\n";
  char buf[128];
  for (Eigen::Index v = 0; v < mesh.num_vertices(); ++v) {
    std::snprintf(buf, sizeof(buf), "v %.17g %.17g %.17g\n", mesh.vertices(v, 0), mesh.vertices(v, 1),
                  mesh.vertices(v, 2));
    out += buf;
  }
  if (normals) {
    for (Eigen::Index v = 0; v < mesh.num_vertices(); ++v) {
      std::snprintf(buf, sizeof(buf), "vn %.9g %.9g %.9g\n", mesh.normals(v, 0), mesh.normals(v, 1),
                    mesh.normals(v, 2));
      out += buf;
    }
  }
  for (Eigen::Index f = 0; f < mesh.num_faces(); ++f) {
    const int a = mesh.faces(f, 0) + 1, b = mesh.faces(f, 1) + 1, c = mesh.faces(f, 2) + 1;
    if (normals) std::snprintf(buf, sizeof(buf), "f %d//%d %d//%d %d//%d\n", a, a, b, b, c, c);
    else std::snprintf(buf, sizeof(buf), "f %d %d %d\n", a, b, c);
    out += buf;
  }
  return out;
}

}  // namespace

bool HasMeshExtension(const std::string& path) {
  const std::string ext = ExtensionOf(path);
  return ext == ".stl" || ext == ".ply" || ext == ".obj" || ext == ".vtk" || ext == ".vtp";
}

TriangleMesh ReadMesh(const std::string& path, MeshReadReport* report) {
  MeshReadReport local;
  if (!report) report = &local;
  *report = MeshReadReport();
  std::error_code ec;
  if (!fs::exists(path, ec)) throw IoError(path + ": no such file");
  if (fs::is_directory(path, ec)) throw InvalidInput(path + ": is a folder, not a mesh file");
  if (fs::file_size(path, ec) == 0) throw InvalidInput(path + ": the file is empty (0 bytes)");
  const std::string ext = ExtensionOf(path);
  TriangleMesh mesh;
  if (ext == ".stl") {
    mesh = ReadStl(path, ReadAll(path), report);
  } else if (ext == ".ply") {
    mesh = ReadPly(path, ReadAll(path), report);
  } else if (ext == ".obj") {
    mesh = ReadObj(path, ReadAll(path), report);
  } else if (ext == ".vtk" || ext == ".vtp") {
    mesh = internal::ReadVtkMesh(path, ext == ".vtp", report);
  } else {
    throw InvalidInput(path + ": unknown mesh format \"" + ext +
                       "\"; expected .stl, .ply, .obj, .vtk or .vtp");
  }
  ValidateMesh(mesh, path);
  const int64_t removed = RemoveRepeatedIndexFaces(&mesh);
  if (removed > 0) {
    report->degenerate_faces_removed += removed;
    report->notes.push_back(std::to_string(removed) + " faces repeating a vertex index removed");
  }
  if (mesh.num_faces() == 0) throw InvalidInput(path + ": no usable triangles");
  return mesh;
}

void WriteMesh(const TriangleMesh& mesh, const std::string& path, const MeshWriteOptions& options) {
  ValidateMesh(mesh, path);
  const std::string ext = ExtensionOf(path);
  if (ext == ".stl") {
    WriteFileAtomically(path, StlBytes(mesh, options.stl_encoding));
  } else if (ext == ".ply") {
    WriteFileAtomically(path, PlyBytes(mesh, options));
  } else if (ext == ".obj") {
    WriteFileAtomically(path, ObjBytes(mesh, options));
  } else if (ext == ".vtk" || ext == ".vtp") {
    internal::AtomicFile file(path);
    internal::WriteVtkMesh(mesh, file.temp_path(), ext == ".vtp", options);
    file.Commit();
  } else {
    throw InvalidInput(path + ": unknown mesh format \"" + ext +
                       "\"; use .stl, .ply, .obj, .vtk or .vtp");
  }
}

}  // namespace ssmx::ssm
