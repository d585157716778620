#!/usr/bin/env bash
# CTest fixture: builds the AR-export test inputs from real meshes and exports
# them with `ssmx export` into OUT. usage: make_files.sh SSMX OUT
# Without the real data ($SSMX_DATA) it writes nothing and says so; the
# checks that need the files then skip.
set -euo pipefail
ssmx="$1"
out="$2"
here="$(cd "$(dirname "$0")" && pwd)"
data="${SSMX_DATA:-$here/../../../shared/data}"
rm -rf "$out"
mkdir -p "$out"
if [ ! -f "$data/meshes/femur_vsd/VSD001_femur.vtk" ]; then
  echo "SKIP: no real meshes under $data (set SSMX_DATA); AR export file checks will skip"
  exit 0
fi
/usr/bin/python3 "$here/make_inputs.py" "$ssmx" "$out" "$data" > /dev/null
cd "$out"
"$ssmx" export femur.ply --name femur --glb femur.glb --usdz femur.usdz --obj femur.obj --viewer viewer_femur --target-faces 0
"$ssmx" export femur_heat.ply --name femur --scalar uncertainty --colormap viridis \
  --glb femur_heat.glb --usdz femur_heat.usdz --obj femur_heat.obj --viewer viewer_heat --target-faces 0
"$ssmx" export tibia_left.ply fibula_left.ply patella_left.ply --color bone,#c9b38a,#9fb8d0 \
  --glb leg.glb --usdz leg.usdz --obj leg.obj --viewer viewer_leg --target-faces 0
# The checks above compare with the inputs vertex by vertex: full meshes. The
# default export (decimated to 50 000 faces) of the 151k-face femur, with a
# heat map, is checked by the validator and for size.
"$ssmx" --quiet export femur_100k.ply --name femur --glb femur_100k.glb --target-faces 0
"$ssmx" --quiet export femur_heat.ply femur_100k.ply --name femur_heat,femur_big --scalar uncertainty \
  --glb femur_default.glb --usdz femur_default.usdz
# What the checks compare with, computed by make_inputs.py from the inputs.
/usr/bin/python3 - <<'PY'
import json
e = json.load(open("expected.json"))
f, leg = e["femur"], e["leg"]
json.dump({"extent_lps_mm": f["extent_lps_mm"], "structures": ["femur"], "faces": f["faces"]}, open("expect_femur.json", "w"))
json.dump({"extent_lps_mm": f["extent_lps_mm"], "structures": ["femur"], "faces": f["faces"],
           "heat": e["uncertainty_mm"]}, open("expect_heat.json", "w"))
json.dump({"extent_lps_mm": leg["extent_lps_mm"], "structures": leg["structures"],
           "faces": sum(leg["faces"].values())}, open("expect_leg.json", "w"))
PY
echo "AR export test files written to $out"
