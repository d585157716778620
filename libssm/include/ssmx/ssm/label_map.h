#ifndef SSMX_SSM_LABEL_MAP_H_
#define SSMX_SSM_LABEL_MAP_H_

#include <string>
#include <vector>

#include "ssmx/core/volume.h"

namespace ssmx::ssm {

// One named label of a segmentation.
//   id:   the voxel value in a label-map file; for a folder of masks, the
//         position of the mask in the sorted list of names, starting at 1.
//   name: e.g. "femur_left".
//   file: the mask file for a folder of masks, else the label-map file.
struct LabelEntry {
  int id = 0;
  std::string name;
  std::string file;
};

// The labels a segmentation offers (docs/surfaces.md, "Label maps"):
//  - a folder of binary masks named <name>.nii.gz (also .nii, .mha, .mhd,
//    .nrrd, .nhdr), TotalSegmentator's layout: one entry per mask, sorted by name;
//  - an integer label-map file (NIfTI, MetaImage, NRRD): the entries of its
//    label table, which is `label_table` when given, else the first of
//    <stem>.json, <stem>.ctbl, <stem>.txt, <stem>_labels.txt next to it, where
//    <stem> is the file name without its volume extension. The table may be
//      JSON: {"femur_left": 1, ...} or {"1": "femur_left", ...}, either one at
//            the top level or under "labels" (nnU-Net / TotalSegmentator
//            dataset.json style);
//      ITK-SNAP label description: `ID R G B A VIS MSH "name"` lines;
//      3D Slicer colour table: `ID name R G B A` lines;
//    with '#' comments. No table: an empty list (numeric labels still work).
// Throws IoError when the path does not exist and InvalidInput when a table
// is malformed (the message names the file and line).
std::vector<LabelEntry> ListLabels(const std::string& path, const std::string& label_table = "");

// A 0/1 int16 mask of one label with the geometry of the segmentation.
// `label` is a name (from ListLabels; exact match first, then a unique
// case-insensitive match) or a numeric id (label-map files only: the voxels
// whose value equals it). Mask files count every nonzero voxel as inside.
// Throws InvalidInput with the available labels listed when the name is
// unknown, and when a numeric id occurs in no voxel (listing those present).
Volume ReadLabelMask(const std::string& path, const std::string& label,
                     const std::string& label_table = "");

}  // namespace ssmx::ssm

#endif  // SSMX_SSM_LABEL_MAP_H_
