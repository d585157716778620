#ifndef SSMX_SSM_STATISMO_IO_H_
#define SSMX_SSM_STATISMO_IO_H_

// statismo v0.9 HDF5 model files, as statismo and scalismo read and write
// them. The layout (groups, datasets, types, attributes) is documented in
// docs/model_format.md.

#include <string>

#include "ssmx/ssm/shape_model.h"

namespace ssmx::ssm {

// Reads a statismo shape model of a triangle mesh (representer datasetType
// "POLYGON_MESH", or a point set without /representer/cells). Version 0.9
// files store the orthonormal basis U, version 0.8 files U * diag(sqrt(variance)),
// which is converted. Float32 or float64 datasets are accepted. Throws IoError
// when the file cannot be opened and InvalidInput naming the file and the
// dataset when it is not a statismo shape model.
ShapeModel ReadStatismoModel(const std::string& path);

// Writes a statismo v0.9 file (float32 datasets, as scalismo writes them),
// atomically: the file is assembled in memory and then renamed into place.
// ssmx's landmarks go into an extra group /ssmx, which statismo and scalismo
// ignore. Throws IoError when the file cannot be written.
void WriteStatismoModel(const ShapeModel& model, const std::string& path);

}  // namespace ssmx::ssm

#endif  // SSMX_SSM_STATISMO_IO_H_
