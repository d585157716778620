// Label selection: folders of binary masks and integer label maps with a
// label table (JSON, ITK-SNAP label description, 3D Slicer colour table).
#include "ssmx/ssm/label_map.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "ssmx/core/error.h"
#include "ssmx/ssm/volume_io.h"

namespace ssmx::ssm {
namespace {

namespace fs = std::filesystem;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The file name without its volume extension ("femur_left.nii.gz" -> "femur_left").
std::string VolumeStem(const std::string& filename) {
  const std::string lower = Lower(filename);
  for (const char* ext : {".nii.gz", ".nii", ".mha", ".mhd", ".nrrd", ".nhdr"}) {
    const std::string e = ext;
    if (lower.size() > e.size() && lower.compare(lower.size() - e.size(), e.size(), e) == 0) {
      return filename.substr(0, filename.size() - e.size());
    }
  }
  return fs::path(filename).stem().string();
}

bool ParseInt(const std::string& text, int* value) {
  if (text.empty()) return false;
  size_t used = 0;
  try {
    const long v = std::stol(text, &used, 10);
    if (used != text.size() || v < -32768 || v > 2147483647L) return false;
    *value = static_cast<int>(v);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

void AddEntry(std::vector<LabelEntry>* entries, int id, const std::string& name,
              const std::string& file) {
  if (name.empty()) return;
  entries->push_back({id, name, file});
}

std::vector<LabelEntry> ParseJsonTable(const std::string& path, const std::string& text,
                                       const std::string& label_map) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw InvalidInput(path + ": not valid JSON (" + e.what() + ")");
  }
  const nlohmann::json& table = doc.is_object() && doc.contains("labels") ? doc["labels"] : doc;
  if (!table.is_object()) {
    throw InvalidInput(
        path +
        ": a label table must be a JSON object {\"name\": id, ...} or {\"id\": \"name\", ...}");
  }
  std::vector<LabelEntry> entries;
  for (const auto& [key, value] : table.items()) {
    int id = 0;
    if (value.is_number_integer()) {
      AddEntry(&entries, value.get<int>(), key, label_map);
    } else if (value.is_string() && ParseInt(key, &id)) {
      AddEntry(&entries, id, value.get<std::string>(), label_map);
    } else {
      throw InvalidInput(path + ": label table entry \"" + key +
                         "\" must map a name to an integer id or an integer id to a name");
    }
  }
  return entries;
}

// ITK-SNAP: `IDX R G B A VIS MSH "LABEL"`; 3D Slicer: `ID NAME R G B A`.
std::vector<LabelEntry> ParseTextTable(const std::string& path, const std::string& text,
                                       const std::string& label_map) {
  std::vector<LabelEntry> entries;
  std::istringstream lines(text);
  std::string line;
  int line_no = 0;
  while (std::getline(lines, line)) {
    ++line_no;
    const size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    std::istringstream words(line);
    std::string id_text;
    words >> id_text;
    int id = 0;
    if (!ParseInt(id_text, &id)) {
      throw InvalidInput(
          path + ": line " + std::to_string(line_no) +
          ": expected a label id first (ITK-SNAP `ID R G B A VIS MSH \"name\"` or 3D Slicer "
          "`ID name R G B A`)");
    }
    const size_t open = line.find('"');
    if (open != std::string::npos) {
      const size_t close = line.find('"', open + 1);
      if (close == std::string::npos) {
        throw InvalidInput(path + ": line " + std::to_string(line_no) +
                           ": unterminated quoted label name");
      }
      AddEntry(&entries, id, line.substr(open + 1, close - open - 1), label_map);
    } else {
      std::string name;
      if (!(words >> name)) {
        throw InvalidInput(path + ": line " + std::to_string(line_no) + ": label " + id_text +
                           " has no name");
      }
      AddEntry(&entries, id, name, label_map);
    }
  }
  return entries;
}

std::vector<LabelEntry> ReadLabelTable(const std::string& table, const std::string& label_map) {
  std::ifstream in(table, std::ios::binary);
  if (!in) throw IoError(table + ": cannot open the label table");
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::vector<LabelEntry> entries = Lower(fs::path(table).extension().string()) == ".json"
                                        ? ParseJsonTable(table, buffer.str(), label_map)
                                        : ParseTextTable(table, buffer.str(), label_map);
  std::sort(entries.begin(), entries.end(), [](const LabelEntry& x, const LabelEntry& y) {
    return x.id != y.id ? x.id < y.id : x.name < y.name;
  });
  return entries;
}

// Candidate label tables next to a label-map file, in the order they are tried.
std::vector<std::string> TableCandidates(const std::string& label_map) {
  const fs::path p(label_map);
  const std::string stem = (p.parent_path() / VolumeStem(p.filename().string())).string();
  return {stem + ".json", stem + ".ctbl", stem + ".txt", stem + "_labels.txt"};
}

std::string NameList(const std::vector<LabelEntry>& entries) {
  std::string out;
  size_t shown = 0;
  for (const LabelEntry& e : entries) {
    if (shown == 60) {
      out += ", ... and " + std::to_string(entries.size() - shown) + " more";
      break;
    }
    out += (shown++ ? ", " : "") + e.name;
  }
  return out;
}

const LabelEntry* FindByName(const std::vector<LabelEntry>& entries, const std::string& name) {
  for (const LabelEntry& e : entries) {
    if (e.name == name) return &e;
  }
  const LabelEntry* found = nullptr;
  for (const LabelEntry& e : entries) {
    if (Lower(e.name) == Lower(name)) {
      if (found) return nullptr;  // ambiguous without case
      found = &e;
    }
  }
  return found;
}

Volume Threshold(const Volume& volume, const std::function<bool(float)>& inside, int64_t* count) {
  Volume mask(volume.geometry(), VoxelType::kInt16);
  int16_t* out = mask.data<int16_t>();
  *count = 0;
  const int64_t n = volume.num_voxels();
  if (volume.voxel_type() == VoxelType::kInt16) {
    const int16_t* in = volume.data<int16_t>();
    for (int64_t i = 0; i < n; ++i) *count += (out[i] = inside(in[i]) ? 1 : 0);
  } else {
    const float* in = volume.data<float>();
    for (int64_t i = 0; i < n; ++i) *count += (out[i] = inside(in[i]) ? 1 : 0);
  }
  return mask;
}

}  // namespace

std::vector<LabelEntry> ListLabels(const std::string& path, const std::string& label_table) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw IoError(path + ": no such file or folder");
  if (fs::is_directory(path, ec)) {
    std::vector<std::pair<std::string, std::string>> masks;  // name, file
    for (const auto& item : fs::directory_iterator(path, ec)) {
      if (!item.is_regular_file(ec) || !HasVolumeExtension(item.path().string())) continue;
      masks.emplace_back(VolumeStem(item.path().filename().string()), item.path().string());
    }
    if (ec) throw IoError(path + ": cannot list the folder (" + ec.message() + ")");
    std::sort(masks.begin(), masks.end());
    std::vector<LabelEntry> entries;
    for (size_t i = 0; i < masks.size(); ++i) {
      entries.push_back({static_cast<int>(i) + 1, masks[i].first, masks[i].second});
    }
    return entries;
  }
  if (!label_table.empty()) {
    if (!fs::exists(label_table, ec)) throw IoError(label_table + ": no such label table");
    return ReadLabelTable(label_table, path);
  }
  for (const std::string& candidate : TableCandidates(path)) {
    if (fs::is_regular_file(candidate, ec)) return ReadLabelTable(candidate, path);
  }
  return {};
}

Volume ReadLabelMask(const std::string& path, const std::string& label,
                     const std::string& label_table) {
  if (label.empty())
    throw InvalidInput(path + ": no label given; name one (e.g. femur_left) or give its id");
  const std::vector<LabelEntry> entries = ListLabels(path, label_table);
  std::error_code ec;
  int64_t count = 0;
  if (fs::is_directory(path, ec)) {
    if (entries.empty()) {
      throw InvalidInput(
          path +
          ": the folder holds no mask files (<name>.nii.gz, .nii, .mha, .nrrd); a DICOM "
          "folder is a CT: extract a threshold surface instead (--hu-threshold)");
    }
    const LabelEntry* entry = FindByName(entries, label);
    if (!entry) {
      throw InvalidInput(path + ": no mask named \"" + label +
                         "\" in the folder; available: " + NameList(entries));
    }
    const Volume mask = Threshold(
        ReadVolume(entry->file).volume, [](float v) { return v != 0; }, &count);
    if (count == 0)
      throw InvalidInput(entry->file + ": the mask of \"" + entry->name + "\" is empty");
    return mask;
  }

  int id = 0;
  std::string what;
  if (ParseInt(label, &id)) {
    what = "label " + label;
  } else {
    const LabelEntry* entry = FindByName(entries, label);
    if (!entry) {
      if (entries.empty()) {
        std::string tried;
        for (const std::string& c : TableCandidates(path)) tried += (tried.empty() ? "" : ", ") + c;
        throw InvalidInput(path + ": cannot resolve the label name \"" + label +
                           "\": no label table (looked for " + tried +
                           "); give a numeric id or a table (--label-table)");
      }
      throw InvalidInput(path + ": unknown label \"" + label +
                         "\"; available: " + NameList(entries));
    }
    id = entry->id;
    what = "label \"" + entry->name + "\" (id " + std::to_string(id) + ")";
  }
  const Volume labels = ReadVolume(path).volume;
  const auto value = static_cast<float>(id);
  const Volume mask = Threshold(
      labels, [value](float v) { return v == value; }, &count);
  if (count == 0) {
    std::set<float> present;
    const Volume as_float = labels.ToFloat();
    const float* v = as_float.data<float>();
    for (int64_t i = 0; i < as_float.num_voxels() && present.size() <= 40; ++i)
      present.insert(v[i]);
    std::ostringstream list;
    int shown = 0;
    for (float p : present) {
      if (shown++ == 40) {
        list << ", ...";
        break;
      }
      list << (shown > 1 ? ", " : "") << p;
    }
    throw InvalidInput(path + ": no voxel has " + what + "; the values present are " + list.str());
  }
  return mask;
}

}  // namespace ssmx::ssm
