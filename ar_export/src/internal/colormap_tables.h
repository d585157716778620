#ifndef SSMX_AR_EXPORT_INTERNAL_COLORMAP_TABLES_H_
#define SSMX_AR_EXPORT_INTERNAL_COLORMAP_TABLES_H_

namespace ssmx::ar_export::internal {

// 256 sRGB entries (0..1) of each colormap; see colormap_tables.cc.
extern const float kViridisTable[256][3];
extern const float kMagmaTable[256][3];
extern const float kInfernoTable[256][3];
extern const float kPlasmaTable[256][3];

}  // namespace ssmx::ar_export::internal

#endif  // SSMX_AR_EXPORT_INTERNAL_COLORMAP_TABLES_H_
