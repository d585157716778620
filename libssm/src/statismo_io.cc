// statismo v0.9 HDF5 files through the HDF5 C API. The layout is that of the
// files scalismo writes (see docs/model_format.md): fixed-length strings in
// one-element datasets, float32 matrices in row-major order, points and cells
// stored as 3 by N and 3 by M.
#include "ssmx/ssm/statismo_io.h"

#include <hdf5.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "ssmx/core/atomic_write.h"
#include "ssmx/core/error.h"

namespace ssmx::ssm {

namespace {

// Owns one HDF5 identifier and closes it with the matching H5?close.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// Silences HDF5's error printing for the lifetime of the object (the errors
// become ssmx exceptions instead) and restores the previous handler.
class QuietHdf5 {
 public:
  QuietHdf5() {
    H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~QuietHdf5() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

bool Exists(hid_t loc, const std::string& path) {
  // Check each component, as H5Lexists requires the parents to exist.
  std::string prefix;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t slash = path.find('/', start);
    const std::string part =
        path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    prefix += (prefix.empty() ? "" : "/") + part;
    if (H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return true;
}

// ---------------------------------------------------------------- reading

class Reader {
 public:
  Reader(hid_t file, std::string path) : file_(file), path_(std::move(path)) {}

  [[noreturn]] void Fail(const std::string& dataset, const std::string& what) const {
    throw InvalidInput(path_ + ": " + dataset + " " + what +
                       "; is this a statismo shape model (.h5)?");
  }

  // Reads any numeric dataset as doubles; dims receives its shape.
  std::vector<double> Doubles(const std::string& name, std::vector<hsize_t>* dims) const {
    if (!Exists(file_, name)) Fail(name, "is missing");
    Handle ds(H5Dopen2(file_, name.c_str(), H5P_DEFAULT), H5Dclose);
    if (!ds.valid()) Fail(name, "cannot be opened as a dataset");
    Handle type(H5Dget_type(ds.get()), H5Tclose);
    const H5T_class_t cls = H5Tget_class(type.get());
    if (cls != H5T_FLOAT && cls != H5T_INTEGER) Fail(name, "is not numeric");
    Handle space(H5Dget_space(ds.get()), H5Sclose);
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 0 || rank > 2) Fail(name, "has rank " + std::to_string(rank) + ", expected 0..2");
    std::vector<hsize_t> d(rank);
    if (rank > 0) H5Sget_simple_extent_dims(space.get(), d.data(), nullptr);
    hsize_t count = 1;
    for (hsize_t x : d) count *= x;
    std::vector<double> values(count);
    if (count > 0 &&
        H5Dread(ds.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0) {
      Fail(name, "cannot be read");
    }
    if (dims) *dims = d;
    return values;
  }

  // A string dataset: fixed or variable length, scalar or one element.
  std::string String(const std::string& name) const {
    Handle ds(H5Dopen2(file_, name.c_str(), H5P_DEFAULT), H5Dclose);
    if (!ds.valid()) Fail(name, "cannot be opened as a dataset");
    Handle type(H5Dget_type(ds.get()), H5Tclose);
    if (H5Tget_class(type.get()) != H5T_STRING) Fail(name, "is not a string");
    Handle space(H5Dget_space(ds.get()), H5Sclose);
    const hssize_t n = H5Sget_simple_extent_npoints(space.get());
    if (n < 1) return "";
    if (H5Tis_variable_str(type.get()) > 0) {
      std::vector<char*> ptrs(n, nullptr);
      Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
      H5Tset_size(mem.get(), H5T_VARIABLE);
      if (H5Dread(ds.get(), mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()) < 0) {
        Fail(name, "cannot be read");
      }
      std::string s = ptrs[0] ? ptrs[0] : "";
      H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, ptrs.data());
      return s;
    }
    const size_t size = H5Tget_size(type.get());
    std::vector<char> buf(size * n + 1, '\0');
    if (H5Dread(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0) {
      Fail(name, "cannot be read");
    }
    return std::string(buf.data(), strnlen(buf.data(), size));
  }

  std::string AttributeString(const std::string& object, const std::string& attribute) const {
    if (H5Aexists_by_name(file_, object.c_str(), attribute.c_str(), H5P_DEFAULT) <= 0) return "";
    Handle a(H5Aopen_by_name(file_, object.c_str(), attribute.c_str(), H5P_DEFAULT, H5P_DEFAULT),
             H5Aclose);
    Handle type(H5Aget_type(a.get()), H5Tclose);
    if (H5Tget_class(type.get()) != H5T_STRING) return "";
    Handle space(H5Aget_space(a.get()), H5Sclose);
    const hssize_t n = std::max<hssize_t>(1, H5Sget_simple_extent_npoints(space.get()));
    if (H5Tis_variable_str(type.get()) > 0) {
      std::vector<char*> ptrs(n, nullptr);
      if (H5Aread(a.get(), type.get(), ptrs.data()) < 0) return "";
      std::string s = ptrs[0] ? ptrs[0] : "";
      H5Dvlen_reclaim(type.get(), space.get(), H5P_DEFAULT, ptrs.data());
      return s;
    }
    const size_t size = H5Tget_size(type.get());
    std::vector<char> buf(size * n + 1, '\0');
    if (H5Aread(a.get(), type.get(), buf.data()) < 0) return "";
    return std::string(buf.data(), strnlen(buf.data(), size));
  }

  // Names of the members of a group, in HDF5's name order.
  std::vector<std::string> Members(const std::string& group) const {
    std::vector<std::string> names;
    Handle g(H5Gopen2(file_, group.c_str(), H5P_DEFAULT), H5Gclose);
    if (!g.valid()) return names;
    H5Literate(
        g.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr,
        [](hid_t, const char* name, const H5L_info_t*, void* out) -> herr_t {
          static_cast<std::vector<std::string>*>(out)->push_back(name);
          return 0;
        },
        &names);
    return names;
  }

  std::map<std::string, std::string> StringMap(const std::string& group) const {
    std::map<std::string, std::string> out;
    for (const std::string& key : Members(group)) {
      H5O_info_t info;
      if (H5Oget_info_by_name(file_, (group + "/" + key).c_str(), &info, H5P_DEFAULT) < 0 ||
          info.type != H5O_TYPE_DATASET) {
        continue;
      }
      Handle ds(H5Dopen2(file_, (group + "/" + key).c_str(), H5P_DEFAULT), H5Dclose);
      Handle type(H5Dget_type(ds.get()), H5Tclose);
      if (H5Tget_class(type.get()) == H5T_STRING) {
        out[key] = String(group + "/" + key);
      } else {
        std::vector<hsize_t> dims;
        const std::vector<double> v = Doubles(group + "/" + key, &dims);
        if (!v.empty()) out[key] = nlohmann::json(v[0]).dump();
      }
    }
    return out;
  }

 private:
  hid_t file_;
  std::string path_;
};

// ---------------------------------------------------------------- writing

class Writer {
 public:
  explicit Writer(hid_t file) : file_(file) {}

  void Group(const std::string& name) {
    Handle g(H5Gcreate2(file_, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    Check(g.valid(), name);
  }

  // A row-major float32 dataset of the given dims from row-major doubles.
  void Floats(const std::string& name, const std::vector<hsize_t>& dims,
              const std::vector<double>& values) {
    std::vector<float> f(values.begin(), values.end());
    Write(name, dims, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, f.data());
  }

  void Ints(const std::string& name, const std::vector<hsize_t>& dims,
            const std::vector<int32_t>& values) {
    Write(name, dims, H5T_STD_I32LE, H5T_NATIVE_INT32, values.data());
  }

  // A one-element fixed-length string dataset, as scalismo writes them.
  void String(const std::string& name, const std::string& value) {
    Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(type.get(), std::max<size_t>(1, value.size()));
    H5Tset_strpad(type.get(), H5T_STR_NULLTERM);
    const hsize_t one = 1;
    Handle space(H5Screate_simple(1, &one, nullptr), H5Sclose);
    Handle ds(H5Dcreate2(file_, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT,
                         H5P_DEFAULT),
              H5Dclose);
    Check(ds.valid(), name);
    std::string padded = value;
    padded.resize(std::max<size_t>(1, value.size()), '\0');
    Check(H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, padded.data()) >= 0, name);
  }

  // A one-element fixed-length string attribute including its terminating NUL.
  void Attribute(const std::string& object, const std::string& name, const std::string& value) {
    Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(type.get(), value.size() + 1);
    const hsize_t one = 1;
    Handle space(H5Screate_simple(1, &one, nullptr), H5Sclose);
    Handle obj(H5Oopen(file_, object.c_str(), H5P_DEFAULT), H5Oclose);
    Handle a(H5Acreate2(obj.get(), name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
             H5Aclose);
    Check(a.valid(), object + "@" + name);
    Check(H5Awrite(a.get(), type.get(), value.c_str()) >= 0, object + "@" + name);
  }

 private:
  void Write(const std::string& name, const std::vector<hsize_t>& dims, hid_t file_type,
             hid_t mem_type, const void* data) {
    Handle space(dims.empty()
                     ? H5Screate(H5S_SCALAR)
                     : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                 H5Sclose);
    Handle ds(H5Dcreate2(file_, name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT,
                         H5P_DEFAULT),
              H5Dclose);
    Check(ds.valid(), name);
    Check(H5Dwrite(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0, name);
  }
  static void Check(bool ok, const std::string& what) {
    if (!ok) throw InternalError("statismo writer: HDF5 failed to write " + what);
  }
  hid_t file_;
};

}  // namespace

ShapeModel ReadStatismoModel(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw IoError(path + ": no such file; give the path of a statismo model (.h5)");
  }
  QuietHdf5 quiet;
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    throw InvalidInput(path + ": not an HDF5 file; give a statismo model (.h5)");
  }
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.valid()) throw IoError(path + ": cannot open the HDF5 file");
  const Reader r(file.get(), path);

  int major = 0, minor = 8;  // statismo: files without /version are 0.8
  if (Exists(file.get(), "version")) {
    major = static_cast<int>(r.Doubles("version/majorVersion", nullptr).at(0));
    minor = static_cast<int>(r.Doubles("version/minorVersion", nullptr).at(0));
  }
  if (major != 0 || (minor != 8 && minor != 9)) {
    throw InvalidInput(path + ": statismo version " + std::to_string(major) + "." +
                       std::to_string(minor) + " is not supported (0.8 and 0.9 are)");
  }
  const std::string type = r.AttributeString("representer", "datasetType");
  if (!type.empty() && type != "POLYGON_MESH" && type != "POINT_SET") {
    throw InvalidInput(path + ": the model describes " + type +
                       " data; ssmx reads shape models of triangle meshes (POLYGON_MESH)");
  }
  std::vector<hsize_t> dims;
  const std::vector<double> mean = r.Doubles("model/mean", &dims);
  if (mean.empty() || mean.size() % 3 != 0)
    r.Fail("model/mean", "does not hold 3 values per point");
  const int64_t dim = static_cast<int64_t>(mean.size());
  const std::vector<double> basis = r.Doubles("model/pcaBasis", &dims);
  if (dims.size() != 2 || static_cast<int64_t>(dims[0]) != dim) {
    r.Fail("model/pcaBasis", "is not a " + std::to_string(dim) + " by K matrix");
  }
  const int64_t k = static_cast<int64_t>(dims[1]);
  const std::vector<double> variance = r.Doubles("model/pcaVariance", &dims);
  if (static_cast<int64_t>(variance.size()) != k) {
    r.Fail("model/pcaVariance", "has " + std::to_string(variance.size()) + " values for " +
                                    std::to_string(k) + " basis columns");
  }
  const std::vector<double> noise = r.Doubles("model/noiseVariance", &dims);
  if (noise.empty()) r.Fail("model/noiseVariance", "is empty");

  Eigen::VectorXd mean_v = Eigen::Map<const Eigen::VectorXd>(mean.data(), dim);
  Eigen::MatrixXd basis_m =
      Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
          basis.data(), dim, k);
  Eigen::VectorXd variance_v = Eigen::Map<const Eigen::VectorXd>(variance.data(), k);
  if (minor == 8) {
    // 0.8 stored U * diag(sqrt(variance)); ssmx keeps U.
    for (int64_t c = 0; c < k; ++c) {
      if (variance_v(c) > 0) basis_m.col(c) /= std::sqrt(variance_v(c));
    }
  }
  MatrixX3iR faces(0, 3);
  if (Exists(file.get(), "representer/cells")) {
    const std::vector<double> cells = r.Doubles("representer/cells", &dims);
    if (dims.size() != 2 || dims[0] != 3) r.Fail("representer/cells", "is not a 3 by M matrix");
    faces.resize(static_cast<int64_t>(dims[1]), 3);
    for (int64_t f = 0; f < faces.rows(); ++f) {
      for (int c = 0; c < 3; ++c) faces(f, c) = static_cast<int32_t>(cells[c * dims[1] + f]);
    }
  }
  ShapeModel model;
  try {
    model = ShapeModel(std::move(mean_v), std::move(basis_m), std::move(variance_v), noise[0],
                       std::move(faces));
  } catch (const InvalidInput& e) {
    throw InvalidInput(path + ": " + e.what());
  }

  ModelInfo& info = model.mutable_info();
  if (Exists(file.get(), "modelinfo/build-time"))
    info.build_time = r.String("modelinfo/build-time");
  if (Exists(file.get(), "modelinfo/scores")) {
    const std::vector<double> scores = r.Doubles("modelinfo/scores", &dims);
    if (dims.size() == 2) {
      info.scores =
          Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
              scores.data(), dims[0], dims[1]);
    }
  }
  for (int i = 0;; ++i) {
    const std::string g = "modelinfo/modelBuilder-" + std::to_string(i);
    if (!Exists(file.get(), g)) break;
    ModelBuilderInfo b;
    if (Exists(file.get(), g + "/builderName")) b.builder_name = r.String(g + "/builderName");
    if (Exists(file.get(), g + "/buildTime")) b.build_time = r.String(g + "/buildTime");
    if (Exists(file.get(), g + "/dataInfo")) b.data_info = r.StringMap(g + "/dataInfo");
    if (Exists(file.get(), g + "/parameters")) b.parameters = r.StringMap(g + "/parameters");
    info.builders.push_back(std::move(b));
  }
  if (Exists(file.get(), "ssmx/landmarks")) {
    std::map<std::string, int> landmarks;
    try {
      landmarks =
          nlohmann::json::parse(r.String("ssmx/landmarks")).get<std::map<std::string, int>>();
    } catch (const nlohmann::json::exception&) {
      r.Fail("ssmx/landmarks", "is not a JSON object of vertex indices");
    }
    try {
      model.SetLandmarks(std::move(landmarks));
    } catch (const InvalidInput& e) {
      throw InvalidInput(path + ": " + e.what());
    }
  }
  return model;
}

void WriteStatismoModel(const ShapeModel& model, const std::string& path) {
  if (model.num_vertices() == 0) throw InvalidInput(path + ": cannot write an empty model");
  QuietHdf5 quiet;
  // Assemble the file in memory (core driver without backing store), then
  // write its image atomically.
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  H5Pset_fapl_core(fapl.get(), 1 << 20, 0);
  const std::string memory_name = path + ".in-memory";
  std::string image;
  {
    Handle file(H5Fcreate(memory_name.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose);
    if (!file.valid()) throw InternalError("statismo writer: HDF5 cannot create an in-memory file");
    Writer w(file.get());
    const int64_t v = model.num_vertices();
    const int64_t k = model.num_modes();

    w.Group("version");
    w.Ints("version/majorVersion", {}, {0});
    w.Ints("version/minorVersion", {}, {9});

    w.Group("model");
    const Eigen::VectorXd& mean = model.mean();
    w.Floats("model/mean", {static_cast<hsize_t>(3 * v)},
             std::vector<double>(mean.data(), mean.data() + mean.size()));
    std::vector<double> basis(3 * v * k);
    Eigen::Map<Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
        basis.data(), 3 * v, k) = model.basis();
    w.Floats("model/pcaBasis", {static_cast<hsize_t>(3 * v), static_cast<hsize_t>(k)}, basis);
    w.Floats("model/pcaVariance", {static_cast<hsize_t>(k)},
             std::vector<double>(model.variances().data(), model.variances().data() + k));
    w.Floats("model/noiseVariance", {1}, {model.noise_variance()});

    w.Group("representer");
    w.Attribute("representer", "datasetType", "POLYGON_MESH");
    w.Attribute("representer", "name", "itkStandardMeshRepresenter");
    w.Attribute("representer", "version/majorVersion", "0");
    w.Attribute("representer", "version/minorVersion", "9");
    std::vector<double> points(3 * v);
    for (int64_t i = 0; i < v; ++i) {
      for (int c = 0; c < 3; ++c) points[c * v + i] = mean(3 * i + c);
    }
    w.Floats("representer/points", {3, static_cast<hsize_t>(v)}, points);
    const MatrixX3iR& faces = model.faces();
    std::vector<int32_t> cells(3 * faces.rows());
    for (int64_t f = 0; f < faces.rows(); ++f) {
      for (int c = 0; c < 3; ++c) cells[c * faces.rows() + f] = faces(f, c);
    }
    w.Ints("representer/cells", {3, static_cast<hsize_t>(faces.rows())}, cells);

    const ModelInfo& info = model.info();
    w.Group("modelinfo");
    w.String("modelinfo/build-time", info.build_time);
    if (info.scores.size() > 0) {
      std::vector<double> scores(info.scores.size());
      Eigen::Map<Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
          scores.data(), info.scores.rows(), info.scores.cols()) = info.scores;
      w.Floats("modelinfo/scores",
               {static_cast<hsize_t>(info.scores.rows()), static_cast<hsize_t>(info.scores.cols())},
               scores);
    }
    for (size_t i = 0; i < info.builders.size(); ++i) {
      const ModelBuilderInfo& b = info.builders[i];
      const std::string g = "modelinfo/modelBuilder-" + std::to_string(i);
      w.Group(g);
      w.String(g + "/buildTime", b.build_time);
      w.String(g + "/builderName", b.builder_name);
      w.Group(g + "/dataInfo");
      for (const auto& [key, value] : b.data_info) w.String(g + "/dataInfo/" + key, value);
      w.Group(g + "/parameters");
      for (const auto& [key, value] : b.parameters) w.String(g + "/parameters/" + key, value);
    }
    if (!model.landmarks().empty()) {
      w.Group("ssmx");
      w.String("ssmx/landmarks", nlohmann::json(model.landmarks()).dump());
    }
    H5Fflush(file.get(), H5F_SCOPE_GLOBAL);
    const ssize_t size = H5Fget_file_image(file.get(), nullptr, 0);
    if (size <= 0) throw InternalError("statismo writer: HDF5 returned no file image");
    image.resize(static_cast<size_t>(size));
    if (H5Fget_file_image(file.get(), image.data(), image.size()) != size) {
      throw InternalError("statismo writer: HDF5 file image incomplete");
    }
  }
  WriteFileAtomically(path, image);
}

}  // namespace ssmx::ssm
