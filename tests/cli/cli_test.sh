#!/usr/bin/env bash
# Black-box tests of the `ssmx` command: help, version, exit codes, and garbage
# input (exit 2 with a one-line reason naming the file, never a crash).
# Usage: cli_test.sh PATH/TO/ssmx    (also run against the sanitizer build)
set -u
ssmx="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }

# expect STATUS DESCRIPTION -- COMMAND...: runs COMMAND, checks the exit status.
expect() {
  local want="$1" what="$2"
  shift 3
  "$@" > "$work/out" 2> "$work/err"
  local got=$?
  if [ "$got" -ne "$want" ]; then
    fail "$what: exit $got, expected $want; stderr: $(head -c 400 "$work/err")"
    return 1
  fi
  ok
}

# garbage FILE: `ssmx info FILE` exits 2 with one stderr line that names FILE.
garbage() {
  local file="$1"
  expect 2 "info on $(basename "$file")" -- "$ssmx" info "$file" || return
  local lines
  lines=$(wc -l < "$work/err")
  if [ "$lines" -ne 1 ] || ! grep -qF -- "$file" "$work/err"; then
    fail "info on $(basename "$file"): expected one line naming the file, got: $(cat "$work/err")"
  else
    ok
  fi
  if grep -qiE "AddressSanitizer|runtime error|Segmentation|Aborted" "$work/err"; then
    fail "info on $(basename "$file"): sanitizer or crash report"
  fi
}

expect 0 "--version" -- "$ssmx" --version
grep -qE '^ssmx [0-9]+\.[0-9]+\.[0-9]+$' "$work/out" && ok || fail "--version output: $(cat "$work/out")"
expect 0 "--help" -- "$ssmx" --help
for cmd in info demo mesh distance export drr pairs phantom correspond build-model model-info sample model-eval fit edges register; do
  grep -q "^  $cmd " "$work/out" || { "$ssmx" --help | grep -q "^  $cmd " && ok || fail "--help does not list $cmd"; }
done
for cmd in info demo mesh distance export drr pairs phantom correspond build-model model-info sample model-eval fit edges register; do
  expect 0 "$cmd --help" -- "$ssmx" "$cmd" --help
  grep -q "^example:" "$work/out" && ok || fail "$cmd --help has no example"
done
expect 2 "no command" -- "$ssmx"
expect 2 "unknown command" -- "$ssmx" frobnicate
expect 2 "unknown option" -- "$ssmx" info --frobnicate x.stl
expect 2 "info without a path" -- "$ssmx" info

# phantom: bad arguments exit 2 with one line naming the argument.
if "$ssmx" --help | grep -q "^  phantom "; then
  expect 0 "phantom --help" -- "$ssmx" phantom --help
  grep -q "^example:" "$work/out" && ok || fail "phantom --help has no example"
  expect 2 "phantom without --out" -- "$ssmx" phantom --n 2
  expect 2 "phantom --n 0" -- "$ssmx" phantom --n 0 --out "$work/ph"
  grep -q -- "--n" "$work/err" && ok || fail "phantom --n 0: message does not name --n"
  expect 2 "phantom --seed -1" -- "$ssmx" phantom --seed -1 --out "$work/ph"
  expect 2 "phantom --side up" -- "$ssmx" phantom --side up --out "$work/ph"
  expect 2 "phantom --format xyz" -- "$ssmx" phantom --format xyz --out "$work/ph"
  : > "$work/ph_file"
  expect 2 "phantom --out on a file" -- "$ssmx" phantom --n 1 --faces 2000 --mesh-spacing 1.5 --out "$work/ph_file/x"
  grep -qF -- "$work/ph_file" "$work/err" && ok || fail "phantom --out on a file: message does not name it"
fi

# The demo writes its report and volumes, then info reads them back.
expect 0 "demo" -- "$ssmx" --quiet demo --out "$work/demo"
[ -s "$work/demo/report.json" ] && [ -s "$work/demo/report.md" ] && ok || fail "demo wrote no report"
ls -a "$work/demo" | grep -q ssmx-tmp && fail "demo left temporary files" || ok
expect 0 "info --json on a mesh" -- "$ssmx" info --json "$work/demo/sphere.ply"
/usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["kind"] == "mesh" and d["vertices"] == 10242 and d["faces"] == 20480, d
assert d["watertight"] is True and d["problems"] == [], d
assert abs(d["enclosed_volume_mm3"] - 65449.8) / 65449.8 < 0.001, d
' "$work/out" && ok || fail "info --json on sphere.ply: wrong content"
expect 0 "info --json on a volume" -- "$ssmx" info --json "$work/demo/thigh_ct.nii.gz"
/usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["kind"] == "volume" and d["size"] == [80, 72, 60], d
assert d["value_range"] == [-1000.0, 1400.0], d
assert abs(d["spacing_mm"][2] - 2.0) < 1e-6, d
' "$work/out" && ok || fail "info --json on thigh_ct.nii.gz: wrong content"

# Export: the demo's sphere as GLB + USDZ + viewer-less STL; then refusals.
expect 0 "export" -- "$ssmx" --quiet export "$work/demo/sphere.ply" --name ball_left --glb "$work/ball.glb" \
  --usdz "$work/ball.usdz" --stl "$work/ball.stl" --json
/usr/bin/python3 -c '
import json, struct, sys, zipfile
d = json.load(open(sys.argv[1]))
assert [f["format"] for f in d["files"]] == ["glb", "usdz", "stl"], d
assert d["structures"][0]["name"] == "ball_left" and d["structures"][0]["side"] == "left", d
glb = open(sys.argv[2], "rb").read()
assert glb[:4] == b"glTF" and struct.unpack("<I", glb[8:12])[0] == len(glb)
assert zipfile.ZipFile(sys.argv[3]).namelist()[0] == "model.usda"
' "$work/out" "$work/ball.glb" "$work/ball.usdz" && ok || fail "export: wrong files or JSON"
# export_refuses WHAT NEEDLE -- ARGS...: exit 2, one stderr line containing NEEDLE.
export_refuses() {
  local what="$1" needle="$2"
  shift 3
  expect 2 "export $what" -- "$ssmx" export "$@" || return
  if [ "$(wc -l < "$work/err")" -ne 1 ] || ! grep -qF -- "$needle" "$work/err"; then
    fail "export $what: expected one line with '$needle', got: $(cat "$work/err")"
  else
    ok
  fi
}
: > "$work/zero_export.stl"
export_refuses "an empty mesh" "$work/zero_export.stl" -- "$work/zero_export.stl" --glb "$work/x.glb"
export_refuses "a missing mesh" "$work/nope.ply" -- "$work/nope.ply" --glb "$work/x.glb"
export_refuses "with nothing to write" "nothing to write" -- "$work/demo/sphere.ply"
export_refuses "a wrong extension" "$work/x.gltf" -- "$work/demo/sphere.ply" --glb "$work/x.gltf"
export_refuses "into a missing folder" "$work/no/dir/x.glb" -- "$work/demo/sphere.ply" --glb "$work/no/dir/x.glb"
export_refuses "an unknown scalar" "--scalar" -- "$work/demo/sphere.ply" --glb "$work/x.glb" --scalar nope
export_refuses "a bad colour" "#zz0000" -- "$work/demo/sphere.ply" --glb "$work/x.glb" --color "#zz0000"
export_refuses "an unknown colormap" "jet" -- "$work/demo/sphere.ply" --glb "$work/x.glb" --scalar x --colormap jet
export_refuses "too many names" "names" -- "$work/demo/sphere.ply" --glb "$work/x.glb" --name a --name b
export_refuses "a tiny face budget" "--target-faces" -- "$work/demo/sphere.ply" --glb "$work/x.glb" --target-faces 2
[ ! -e "$work/x.glb" ] && ok || fail "a refused export left $work/x.glb"

# Garbage input.
mkdir -p "$work/bad" "$work/empty_dir"
: > "$work/bad/zero.stl"
garbage "$work/bad/zero.stl"
printf 'ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n0 0 0\n1 0 0\n0 1 0\n3 0 1 5\n' > "$work/bad/past.ply"
garbage "$work/bad/past.ply"
{ head -c 128 /dev/zero; printf 'DICM\x02\x00\x00\x00UL\x04\x00'; head -c 40 /dev/urandom; } > "$work/bad/truncated.dcm"
garbage "$work/bad/truncated.dcm"
gzip -dc "$work/demo/thigh_ct.nii.gz" > "$work/bad/full.nii"
head -c 20000 "$work/bad/full.nii" > "$work/bad/lying.nii"
garbage "$work/bad/lying.nii"
echo "just text" > "$work/empty_dir/notes.txt"
garbage "$work/empty_dir"
garbage "$work/bad/does-not-exist.nii.gz"

# garbage_run FILE COMMAND...: exits 2 with one stderr line that names FILE.
garbage_run() {
  local file="$1"
  shift
  expect 2 "$* (garbage)" -- "$ssmx" "$@" || return
  if [ "$(wc -l < "$work/err")" -ne 1 ] || ! grep -qF -- "$file" "$work/err"; then
    fail "$*: expected one line naming $file, got: $(cat "$work/err")"
  else
    ok
  fi
  if grep -qiE "AddressSanitizer|runtime error|Segmentation|Aborted" "$work/err"; then
    fail "$*: sanitizer or crash report"
  fi
}

# ssmx mesh / distance on the demo's thigh CT: a cortical tube (r 9..14 mm,
# 1400 HU) through the whole volume (60 slices of 2 mm), so the surface at
# 720 HU is an annulus of volume pi (14^2 - 9^2) 120 mm^3, capped at the border.
expect 0 "mesh --hu-threshold" -- "$ssmx" mesh "$work/demo/thigh_ct.nii.gz" --hu-threshold 720 \
  --out "$work/tube.stl" --json
/usr/bin/python3 -c '
import json, math, sys
d = json.load(open(sys.argv[1]))
assert d["watertight"] is True and d["connected_components"] == 1, d
truth = math.pi * (14**2 - 9**2) * 120
assert abs(d["enclosed_volume_mm3"] - truth) / truth < 0.05, (d["enclosed_volume_mm3"], truth)
' "$work/out" && ok || fail "mesh --hu-threshold on thigh_ct: wrong content: $(head -c 300 "$work/out")"
expect 0 "mesh --target-faces --keep all" -- "$ssmx" mesh "$work/demo/thigh_ct.nii.gz" --hu-threshold 720 \
  --out "$work/tube_small.ply" --target-faces 2000 --keep all --smooth 5
expect 0 "distance --json" -- "$ssmx" distance "$work/tube.stl" "$work/tube_small.ply" --json \
  --colored-out "$work/tube_dist.ply"
/usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["a"]["watertight"] and d["b"]["watertight"], d
assert 0 < d["symmetric"]["mean_mm"] < 0.5 and d["symmetric"]["hausdorff_mm"] < 3, d
assert d["symmetric"]["hausdorff_mm"] == max(d["a_to_b"]["max_mm"], d["b_to_a"]["max_mm"]), d
assert 0.95 < d["dice"] <= 1, d
' "$work/out" && ok || fail "distance --json: wrong content: $(head -c 300 "$work/out")"
head -c 600 "$work/tube_dist.ply" | grep -q "property uchar red" && head -c 600 "$work/tube_dist.ply" |
  grep -q "property float distance_mm" && ok || fail "distance --colored-out wrote no colours or distances"
expect 0 "distance of a mesh to itself" -- "$ssmx" distance "$work/tube.stl" "$work/tube.stl" --json
/usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["symmetric"]["hausdorff_mm"] == 0 and d["dice"] == 1, d
' "$work/out" && ok || fail "distance to itself is not 0"
expect 0 "distance text" -- "$ssmx" distance "$work/tube.stl" "$work/demo/sphere.stl" --no-dice
grep -q "^symmetric" "$work/out" && ok || fail "distance text output: $(cat "$work/out")"

# Real labels (TotalSegmentator), when the data is there.
data="${SSMX_DATA:-$(cd "$(dirname "$0")/../.." && pwd)/../shared/data}"
if [ -d "$data/ct/totalseg_abdomen/labels" ]; then
  expect 0 "mesh --label" -- "$ssmx" mesh "$data/ct/totalseg_abdomen/labels" --label femur_left \
    --out "$work/femur.vtp" --json
  /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["watertight"] and d["connected_components"] == 1, d
assert abs(d["enclosed_volume_mm3"] / d["label_voxel_volume_mm3"] - 1) < 0.03, d
' "$work/out" && ok || fail "mesh --label femur_left: wrong content: $(head -c 300 "$work/out")"
  garbage_run "$data/ct/totalseg_abdomen/labels" mesh "$data/ct/totalseg_abdomen/labels" --label femur \
    --out "$work/x.stl"
else
  echo "skipped: real-label checks ($data/ct/totalseg_abdomen/labels not found; set SSMX_DATA)"
fi
if [ -d "$data/dicom/totalseg_abdomen_j2k_empty_uids" ]; then
  expect 0 "mesh on a DICOM folder" -- "$ssmx" mesh "$data/dicom/totalseg_abdomen_j2k_empty_uids" \
    --hu-threshold 250 --target-faces 20000 --out "$work/dicom_bone.ply" --json
  /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["format"] == "DICOM" and d["watertight"] and d["faces"] <= 20400, d
' "$work/out" && ok || fail "mesh on a DICOM folder: wrong content: $(head -c 300 "$work/out")"
else
  echo "skipped: DICOM mesh check ($data/dicom not found; set SSMX_DATA)"
fi

# Garbage input to mesh and distance.
garbage_run "$work/bad/lying.nii" mesh "$work/bad/lying.nii" --hu-threshold 100 --out "$work/x.stl"
garbage_run "$work/bad/does-not-exist.nii.gz" mesh "$work/bad/does-not-exist.nii.gz" --label 1 --out "$work/x.stl"
garbage_run "$work/demo/thigh_ct.nii.gz" mesh "$work/demo/thigh_ct.nii.gz" --hu-threshold 9000 --out "$work/x.stl"
garbage_run "$work/demo/thigh_ct.nii.gz" mesh "$work/demo/thigh_ct.nii.gz" --label femur --out "$work/x.stl"
garbage_run "$work/nowhere/x.stl" mesh "$work/demo/thigh_ct.nii.gz" --hu-threshold 700 --out "$work/nowhere/x.stl"
garbage_run "$work/x.xyz" mesh "$work/demo/thigh_ct.nii.gz" --hu-threshold 700 --out "$work/x.xyz"
garbage_run "$work/bad/zero.stl" distance "$work/bad/zero.stl" "$work/tube.stl"
garbage_run "$work/bad/past.ply" distance "$work/tube.stl" "$work/bad/past.ply"
garbage_run "$work/c.stl" distance "$work/tube.stl" "$work/tube.stl" --colored-out "$work/c.stl"
expect 2 "mesh without --label or --hu-threshold" -- "$ssmx" mesh "$work/demo/thigh_ct.nii.gz" --out "$work/x.stl"
expect 2 "mesh --keep biggest" -- "$ssmx" mesh "$work/demo/thigh_ct.nii.gz" --hu-threshold 700 --keep biggest \
  --out "$work/x.stl"
expect 2 "distance with one mesh" -- "$ssmx" distance "$work/tube.stl"

# ssmx drr on the demo's thigh CT: sidecars, --geometry round trip, seeded noise.
expect 0 "drr ap" -- "$ssmx" drr "$work/demo/thigh_ct.nii.gz" --view ap --size 96x64 --pixel-spacing 1.5 \
  --out "$work/ap.mha" --json
/usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
s = json.load(open(sys.argv[2]))
assert d["quantity"] == "line_integral" and d["size"] == [96, 64], d
assert s["rows"] == 64 and s["cols"] == 96 and s["view"] == "AP", s
P, src = s["projection_matrix"], s["source_position_mm"]
# The source is the null space of P; the third row is [d, -d.s] with d = +y for AP.
for r in P:
    assert abs(sum(r[i] * src[i] for i in range(3)) + r[3]) < 1e-6 * max(abs(x) for x in r), r
assert P[2][:3] == [0.0, 1.0, 0.0], P[2]
assert 0 < d["max_value"] < 20, d
' "$work/out" "$work/ap.json" && ok || fail "drr ap: wrong JSON or sidecar: $(head -c 300 "$work/out")"
expect 0 "drr --geometry" -- "$ssmx" --quiet drr "$work/demo/thigh_ct.nii.gz" --geometry "$work/ap.json" \
  --projector trilinear --out "$work/ap_again.tiff"
/usr/bin/python3 -c '
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert a["projection_matrix"] == b["projection_matrix"] and b["projector"] == "trilinear", (a, b)
' "$work/ap.json" "$work/ap_again.json" && ok || fail "drr --geometry did not keep the projection matrix"
for n in 1 2; do
  expect 0 "drr noisy intensity $n" -- "$ssmx" --quiet drr "$work/demo/thigh_ct.nii.gz" --view lat --size 64x64 \
    --quantity intensity --i0 5000 --noise-seed 11 --out "$work/noisy$n.png"
done
cmp -s "$work/noisy1.png" "$work/noisy2.png" && ok || fail "drr: the same noise seed gave different bytes"
garbage_run "$work/bad/lying.nii" drr "$work/bad/lying.nii" --out "$work/x.png"
garbage_run "$work/bad/does-not-exist.nii.gz" drr "$work/bad/does-not-exist.nii.gz" --out "$work/x.png"
garbage_run "$work/x.jpg" drr "$work/demo/thigh_ct.nii.gz" --size 8x8 --out "$work/x.jpg"
garbage_run "$work/nowhere/x.png" drr "$work/demo/thigh_ct.nii.gz" --size 8x8 --out "$work/nowhere/x.png"
echo '{"rows": 8}' > "$work/bad/view.json"
garbage_run "$work/bad/view.json" drr "$work/demo/thigh_ct.nii.gz" --geometry "$work/bad/view.json" --out "$work/x.png"
expect 2 "drr --size 0x8" -- "$ssmx" drr "$work/demo/thigh_ct.nii.gz" --size 0x8 --out "$work/x.png"
expect 2 "drr --view pa" -- "$ssmx" drr "$work/demo/thigh_ct.nii.gz" --view pa --out "$work/x.png"
expect 2 "drr without --out" -- "$ssmx" drr "$work/demo/thigh_ct.nii.gz"
expect 2 "drr --quantity mask without labels" -- "$ssmx" drr "$work/demo/thigh_ct.nii.gz" --quantity mask \
  --out "$work/x.png"
expect 2 "drr SAD beyond SID" -- "$ssmx" drr "$work/demo/thigh_ct.nii.gz" --source-to-isocenter 1200 \
  --out "$work/x.png"
[ ! -e "$work/x.png" ] && ok || fail "a refused drr left $work/x.png"

# ssmx pairs on the demo's thigh CT: same seed, same bytes (1 and 2 workers);
# a resume with other arguments is refused; garbage inputs name the file.
ct="$work/demo/thigh_ct.nii.gz"
echo '{"tube_axis": [0, 0, 0]}' > "$work/lm.json"
for w in 1 2; do
  expect 0 "pairs workers $w" -- "$ssmx" pairs "$ct" --out "$work/pairs$w" --per-volume 3 --size 32x24 \
    --pixel-spacing 3 --landmarks "$work/lm.json" --i0 1e4 --seed 5 --workers "$w" --json
done
diff -r "$work/pairs1" "$work/pairs2" > /dev/null && ok || fail "pairs: 1 and 2 workers gave different bytes"
/usr/bin/python3 -c '
import csv, hashlib, json, os, sys
d = json.load(open(sys.argv[1]))
assert d["samples"] == 3 and d["samples_generated"] == 3, d
root = sys.argv[2]
rows = list(csv.DictReader(open(os.path.join(root, "manifest.csv"))))
assert len(rows) == 6 and {r["view"] for r in rows} == {"AP", "LAT"}, rows
for r in rows:
    for c in ("image", "sidecar", "pose", "landmarks"):
        assert hashlib.sha256(open(os.path.join(root, r[c]), "rb").read()).hexdigest() == r[c + "_sha256"]
' "$work/out" "$work/pairs2" && ok || fail "pairs: wrong JSON or manifest: $(head -c 300 "$work/out")"
expect 0 "pairs resume" -- "$ssmx" pairs "$ct" --out "$work/pairs1" --per-volume 3 --size 32x24 \
  --pixel-spacing 3 --landmarks "$work/lm.json" --i0 1e4 --seed 5 --json
grep -q '"samples_skipped": 3' "$work/out" && ok || fail "pairs resume did not skip: $(cat "$work/out")"
garbage_run "$work/pairs1" pairs "$ct" --out "$work/pairs1" --per-volume 3 --size 32x24 --seed 6
grep -q "seed" "$work/err" && ok || fail "pairs with another seed: message does not name it"
garbage_run "$work/bad/lying.nii" pairs "$work/bad/lying.nii" --out "$work/p_bad1" --per-volume 1 --size 8x8
garbage_run "$work/bad/does-not-exist.nii.gz" pairs "$work/bad/does-not-exist.nii.gz" --out "$work/p_bad2" \
  --per-volume 1 --size 8x8
[ ! -e "$work/p_bad2" ] && ok || fail "pairs on a missing CT created its --out folder"
garbage_run "$work/bad/lying.nii" pairs "$ct" --labels "$work/bad/lying.nii" --label 1 --out "$work/p_bad3" \
  --per-volume 1 --size 8x8
echo '{"a": [1, 2]}' > "$work/bad/lm.json"
garbage_run "$work/bad/lm.json" pairs "$ct" --landmarks "$work/bad/lm.json" --out "$work/p_bad4" \
  --per-volume 1 --size 8x8
: > "$work/p_file"
garbage_run "$work/p_file" pairs "$ct" --out "$work/p_file" --per-volume 1 --size 8x8
expect 2 "pairs without --out" -- "$ssmx" pairs "$ct"
expect 2 "pairs --per-volume 0" -- "$ssmx" pairs "$ct" --out "$work/p_x" --per-volume 0
grep -q -- "--per-volume" "$work/err" && ok || fail "pairs --per-volume 0: message does not name it"
expect 2 "pairs --views ap,pa" -- "$ssmx" pairs "$ct" --out "$work/p_x" --views ap,pa
expect 2 "pairs --format jpg" -- "$ssmx" pairs "$ct" --out "$work/p_x" --format jpg
expect 2 "pairs --pose-jitter-deg 200" -- "$ssmx" pairs "$ct" --out "$work/p_x" --pose-jitter-deg 200
expect 2 "pairs --seed -1" -- "$ssmx" pairs "$ct" --out "$work/p_x" --seed -1
expect 2 "pairs --partition 0:5" -- "$ssmx" pairs "$ct" --out "$work/p_x" --partition 0:5
expect 2 "pairs two CTs, one label map" -- "$ssmx" pairs "$ct" "$ct" --labels "$ct" --label 1 --out "$work/p_x"
[ ! -e "$work/p_x" ] && ok || fail "a refused pairs run created $work/p_x"
# ssmx register: an asymmetric synthetic CT (MetaImage written here) against
# its own noisy AP/LAT DRRs, from a start 6.4 mm / 4 deg away; the truth is the
# identity, so the mTRE must fall from > 3 mm to < 0.5 mm.
/usr/bin/python3 -c '
import json, sys, numpy as np
out = sys.argv[1]
k, j, i = np.mgrid[0:32, 0:36, 0:40].astype(float)
x, y, z = 3 * i - 60, 3 * j - 50, 3 * k
hu = np.full(x.shape, -1000.0)
hu[(x / 55) ** 2 + (y / 48) ** 2 + ((z - 46) / 44) ** 2 < 1] = 40
hu[((x - 15 - 0.3 * (z - 46)) / 10) ** 2 + ((y + 5) / 12) ** 2 + ((z - 46) / 35) ** 2 < 1] = 1200
hu[(x + 25) ** 2 + (y - 10) ** 2 + (z - 61) ** 2 < 64] = 2000
header = (b"ObjectType = Image\nNDims = 3\nDimSize = 40 36 32\nElementSpacing = 3 3 3\n"
          b"Offset = -60 -50 0\nTransformMatrix = 1 0 0 0 1 0 0 0 1\nElementType = MET_SHORT\n"
          b"ElementByteOrderMSB = False\nElementDataFile = LOCAL\n")
open(out + "/reg_ct.mha", "wb").write(header + hu.astype("<i2").tobytes())
open(out + "/reg_labels.mha", "wb").write(header + (hu >= 1200).astype("<i2").tobytes())
c, s = np.cos(np.radians(4)), np.sin(np.radians(4))
m = np.eye(4); m[:3, :3] = [[c, -s, 0], [s, c, 0], [0, 0, 1]]; m[:3, 3] = [4, -3, 2]
json.dump({"format": "ssmx-pose", "version": 1, "matrix": m.tolist()}, open(out + "/reg_init.json", "w"))
json.dump({"format": "ssmx-pose", "version": 1, "matrix": np.eye(4).tolist()}, open(out + "/reg_truth.json", "w"))
' "$work" && ok || fail "register: could not write the synthetic CT"
for v in ap lat; do
  expect 0 "drr $v for register" -- "$ssmx" --quiet drr "$work/reg_ct.mha" --view $v --size 64x64 --pixel-spacing 4 \
    --quantity intensity --i0 10000 --noise-seed 5 --out "$work/reg_$v.png"
done
expect 0 "register" -- "$ssmx" register "$work/reg_ct.mha" --view "$work/reg_ap.png" --view "$work/reg_lat.png" \
  --init "$work/reg_init.json" --true-pose "$work/reg_truth.json" --levels 2,1 --out "$work/reg_pose.json" --json
/usr/bin/python3 -c '
import json, sys
d, f = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert f["format"] == "ssmx-pose" and d["matrix"] == f["matrix"] and d["out"] == sys.argv[2], d
assert f["initial_mtre_mm"] > 3 and f["mtre_mm"] < 0.5, f
assert f["similarity"] == "ncc" and len(f["levels"]) == 2 and f["iterations"] > 0, f
assert f["final_score"] > f["initial_score"] and len(f["view_scores"]) == 2, f
' "$work/out" "$work/reg_pose.json" && ok || fail "register: wrong JSON or pose: $(head -c 400 "$work/out")"
# Then the "bone" (label 1) alone, in front of the rest of the CT at the whole CT's pose.
expect 0 "register --label --background" -- "$ssmx" --quiet register "$work/reg_ct.mha" --view "$work/reg_ap.png" \
  --view "$work/reg_lat.png" --labels "$work/reg_labels.mha" --label 1 --background --init "$work/reg_pose.json" \
  --true-pose "$work/reg_truth.json" --levels 2,1 --out "$work/reg_bone.json"
/usr/bin/python3 -c '
import json, sys
f = json.load(open(sys.argv[1]))
assert f["background"] is True and f["roi_margin_mm"] < 0 and f["mtre_mm"] < 0.5, f
' "$work/reg_bone.json" && ok || fail "register --background: $(head -c 400 "$work/reg_bone.json")"
garbage_run "$work/bad/view.json" register "$work/reg_ct.mha" --view "$work/bad/view.json" --out "$work/x.json"
garbage_run "$work/nowhere.png" register "$work/reg_ct.mha" --view "$work/nowhere.png" --out "$work/x.json"
garbage_run "$work/bad/lying.nii" register "$work/bad/lying.nii" --view "$work/reg_ap.png" --out "$work/x.json"
garbage_run "$work/bad/view.json" register "$work/reg_ct.mha" --view "$work/reg_ap.png" --init "$work/bad/view.json" \
  --out "$work/x.json"
garbage_run "$work/nowhere/x.json" register "$work/reg_ct.mha" --view "$work/reg_ap.png" --out "$work/nowhere/x.json"
expect 2 "register without --view" -- "$ssmx" register "$work/reg_ct.mha" --out "$work/x.json"
expect 2 "register without --out" -- "$ssmx" register "$work/reg_ct.mha" --view "$work/reg_ap.png"
expect 2 "register --levels 0" -- "$ssmx" register "$work/reg_ct.mha" --view "$work/reg_ap.png" --levels 0 \
  --out "$work/x.json"
expect 2 "register --similarity mi" -- "$ssmx" register "$work/reg_ct.mha" --view "$work/reg_ap.png" \
  --similarity mi --out "$work/x.json"
expect 2 "register --label without --labels" -- "$ssmx" register "$work/reg_ct.mha" --view "$work/reg_ap.png" \
  --label femur --out "$work/x.json"
expect 2 "register --background without --label" -- "$ssmx" register "$work/reg_ct.mha" --view "$work/reg_ap.png" \
  --background --out "$work/x.json"
[ ! -e "$work/x.json" ] && ok || fail "a refused register left $work/x.json"

# Shape models: build from a small phantom cohort (true correspondence), read
# it back (also with h5py), sample with a seed; refusals name the file.
if "$ssmx" --help | grep -q "^  build-model "; then
  expect 0 "phantom cohort for build-model" -- "$ssmx" --quiet phantom --n 6 --seed 3 --faces 2000 \
    --mesh-spacing 1.5 --out "$work/cohort"
  expect 0 "build-model" -- "$ssmx" --quiet build-model "$work"/cohort/femur_00?.ply --out "$work/femur.h5" \
    --align similarity --modes 3 --json
  /usr/bin/python3 -c '
import json, sys, h5py
d = json.load(open(sys.argv[1]))
assert d["modes"] == 3 and d["modes_available"] == 5 and d["training_shapes"] == 6, d
f = h5py.File(sys.argv[2], "r")
assert int(f["version/minorVersion"][()]) == 9 and f["model/pcaBasis"].shape == (3 * d["vertices"], 3)
assert f["representer"].attrs["datasetType"][0] == b"POLYGON_MESH"
assert f["modelinfo/modelBuilder-0/parameters/alignment"][0] == b"similarity"
' "$work/out" "$work/femur.h5" && ok || fail "build-model: wrong JSON or file: $(head -c 300 "$work/out")"
  expect 0 "model-info" -- "$ssmx" model-info "$work/femur.h5"
  grep -q "modes 3" "$work/out" && ok || fail "model-info text: $(head -c 300 "$work/out")"
  expect 0 "build-model --landmarks cohort.json" -- "$ssmx" --quiet build-model "$work"/cohort/femur_00?.ply \
    --out "$work/femur_lm.h5" --landmarks "$work/cohort/cohort.json"
  expect 0 "model-info --json with landmarks" -- "$ssmx" model-info --json "$work/femur_lm.h5"
  /usr/bin/python3 -c '
import json, sys
d, c = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert d["landmarks"] == c["template"]["landmark_vertices"] and len(d["landmarks"]) == 8, d["landmarks"]
' "$work/out" "$work/cohort/cohort.json" && ok || fail "build-model --landmarks: not carried"
  echo '{"tip": 999999}' > "$work/bad/landmarks.json"
  garbage_run "$work/bad/landmarks.json" build-model "$work"/cohort/femur_00?.ply --out "$work/x.h5" \
    --landmarks "$work/bad/landmarks.json"
  for n in 1 2; do
    expect 0 "sample $n" -- "$ssmx" --quiet sample "$work/femur.h5" --n 2 --seed 5 --out "$work/samples$n"
  done
  cmp -s "$work/samples1/sample_001.ply" "$work/samples2/sample_001.ply" && ok ||
    fail "sample: the same seed gave different bytes"
  [ -s "$work/samples1/samples.json" ] && ok || fail "sample wrote no samples.json"
  expect 0 "info on a sample" -- "$ssmx" info "$work/samples1/sample_000.ply"
  garbage_run "$work/bad/zero.stl" build-model "$work/cohort/femur_000.ply" "$work/bad/zero.stl" --out "$work/x.h5"
  "$ssmx" --quiet phantom --n 1 --seed 1 --faces 1000 --mesh-spacing 2 --out "$work/other" > /dev/null 2>&1
  garbage_run "$work/other/femur_000.ply" build-model "$work/cohort/femur_000.ply" \
    "$work/other/femur_000.ply" --out "$work/x.h5"
  garbage_run "$work/bad/zero.stl" model-info "$work/bad/zero.stl"
  garbage_run "$work/bad/nothing.h5" model-info "$work/bad/nothing.h5"
  garbage_run "$work/demo/sphere.ply" sample "$work/demo/sphere.ply" --out "$work/s3"
  expect 2 "build-model --variance 2" -- "$ssmx" build-model "$work"/cohort/femur_00?.ply --out "$work/x.h5" \
    --variance 2
  expect 2 "build-model --align affine" -- "$ssmx" build-model "$work"/cohort/femur_00?.ply --out "$work/x.h5" \
    --align affine
  expect 2 "sample --seed -1" -- "$ssmx" sample "$work/femur.h5" --seed -1 --out "$work/s3"
  [ ! -e "$work/x.h5" ] && ok || fail "a refused build-model left $work/x.h5"
  expect 0 "model-eval --leave-one-out" -- "$ssmx" model-eval --leave-one-out "$work"/cohort/femur_00?.ply \
    --samples 50 --json
  /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
g, s = d["generalisation"], d["specificity"]
assert d["shapes"] == 6 and g["modes"] == [1, 2, 3, 4] and len(d["compactness"]) == 5, d
assert g["mean_mm"][-1] < g["mean_mm"][0] and s["samples"] == 50 and abs(d["compactness"][-1] - 1) < 1e-12, d
' "$work/out" && ok || fail "model-eval: wrong JSON: $(head -c 300 "$work/out")"
  expect 0 "model-eval --test" -- "$ssmx" model-eval "$work/femur.h5" --test "$work/cohort/femur_000.ply" \
    --samples 20 --modes 1,3
  expect 2 "model-eval without --test" -- "$ssmx" model-eval "$work/femur.h5" "$work/cohort/femur_000.ply"
  garbage_run "$work/other/femur_000.ply" model-eval "$work/femur.h5" --test "$work/other/femur_000.ply"
  # fit: a femur that is not in the model (seed 9), from AP and LAT DRRs of its
  # CT, started from its true landmarks projected into both views; the truth
  # is its own mesh.
  expect 0 "phantom subject with CT for fit" -- "$ssmx" --quiet phantom --n 1 --seed 9 --faces 2000 \
    --mesh-spacing 1.5 --ct --ct-spacing 2 --out "$work/subject"
  for view in ap lat; do
    expect 0 "drr $view for fit" -- "$ssmx" --quiet drr "$work/subject/femur_000_ct.nii.gz" --view $view \
      --size 320x320 --pixel-spacing 2.6 --out "$work/$view.png"
  done
  /usr/bin/python3 -c '
import json, sys
import numpy as np
subject = json.load(open(sys.argv[1]))["subjects"][0]["landmarks_mm"]
views = []
for sidecar in sys.argv[2:4]:
    P = np.array(json.load(open(sidecar))["projection_matrix"])
    points = {}
    for name, x in subject.items():
        h = P @ np.array(x + [1.0])
        points[name] = [h[0] / h[2], h[1] / h[2]]
    views.append({"points": points})
json.dump({"format": "ssmx-landmarks-2d", "views": views}, open(sys.argv[4], "w"))
' "$work/subject/cohort.json" "$work/ap.json" "$work/lat.json" "$work/lm.json" && ok || fail "fit: landmarks not written"
  expect 0 "fit with landmarks" -- "$ssmx" --quiet fit "$work/femur_lm.h5" --view "$work/ap.png" \
    --view "$work/lat.png" --landmarks "$work/lm.json" --out "$work/recon.ply" --report "$work/recon"
  for f in recon.ply recon/fit.json recon/pose.json recon/recon.ply recon/overlay_0_ap.png recon/overlay_1_lat.png; do
    [ -s "$work/$f" ] && ok || fail "fit did not write $f"
  done
  head -c 2000 "$work/recon.ply" | grep -aq "property float posterior_std_mm" && ok ||
    fail "fit: recon.ply has no posterior_std_mm"
  expect 0 "distance of the fit to the truth" -- "$ssmx" distance "$work/recon.ply" \
    "$work/subject/femur_000.ply" --json
  /usr/bin/python3 -c '
import json, sys
d, f = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
# 6 training shapes, 1.8 mm pixels at the femur: a few pixels at worst.
assert d["symmetric"]["mean_mm"] < 3.0, d["symmetric"]
assert f["start"] == "landmarks" and len(f["landmarks_used"]) >= 3 and len(f["views"]) == 2, f
assert set(f["quality_flags"]) == {"residual_too_high", "shape_implausible", "pose_at_search_edge", "views_inconsistent"}
assert json.load(open(sys.argv[3]))["matrix"][3] == [0, 0, 0, 1]
' "$work/out" "$work/recon/fit.json" "$work/recon/pose.json" && ok || fail "fit: $(head -c 300 "$work/out")"
  expect 0 "fit --json from a pose" -- "$ssmx" fit "$work/femur_lm.h5" --view "$work/ap.png" \
    --view "$work/lat.png" --init "$work/recon/pose.json" --modes 2 --out "$work/recon2.stl" --json
  grep -q '"start": "given_pose"' "$work/out" && ok || fail "fit --init: $(head -c 300 "$work/out")"
  expect 2 "fit without views" -- "$ssmx" fit "$work/femur_lm.h5" --out "$work/x.ply"
  expect 2 "fit --out without a mesh extension" -- "$ssmx" fit "$work/femur_lm.h5" --view "$work/ap.png" \
    --out "$work/x.txt"
  cp "$work/ap.png" "$work/bad/nosidecar.png"
  garbage_run "$work/bad/nosidecar.png" fit "$work/femur_lm.h5" --view "$work/bad/nosidecar.png" \
    --out "$work/x.ply"
  echo '{"views": [{"points": {"femoral_head_center": [1]}}, {"points": {}}]}' > "$work/bad/lm2d.json"
  garbage_run "$work/bad/lm2d.json" fit "$work/femur_lm.h5" --view "$work/ap.png" --view "$work/lat.png" \
    --landmarks "$work/bad/lm2d.json" --out "$work/x.ply"
  garbage_run "$work/bad/nothing.h5" fit "$work/bad/nothing.h5" --view "$work/ap.png" --out "$work/x.ply"
  [ ! -e "$work/x.ply" ] && ok || fail "a refused fit left $work/x.ply"
  expect 0 "edges of a DRR" -- "$ssmx" edges "$work/ap.png" --out "$work/edges.png" --json
  grep -q '"edges"' "$work/out" && [ -s "$work/edges.png" ] && ok || fail "edges: $(head -c 300 "$work/out")"
  garbage_run "$work/bad/zero.stl" edges "$work/bad/zero.stl" --out "$work/e.png"
  if [ -f "$data/xray/hip_cr_RG2.dcm" ]; then
    expect 0 "edges of a DICOM CR" -- "$ssmx" edges "$data/xray/hip_cr_RG2.dcm" --out "$work/hip.png" --level 1
    grep -q "DICOM CR radiograph" "$work/out" && ok || fail "edges on CR: $(cat "$work/out")"
  fi
  if [ -f "$data/models/femur_gp_statismo/femur_gp_model_50-components.h5" ]; then
    expect 0 "model-info on the scalismo model" -- "$ssmx" model-info --json \
      "$data/models/femur_gp_statismo/femur_gp_model_50-components.h5"
    grep -q '"modes": 51' "$work/out" && ok || fail "model-info scalismo: $(head -c 300 "$work/out")"
  fi
fi

# correspond: the reference deformed onto two other phantom femurs keeps its
# vertices and faces, lies on each target and flips no face; garbage exits 2.
if "$ssmx" --help | grep -q "^  correspond "; then
  printf 'a,0,0,0\nb,1,0,0\nc,0,1,0\n' > "$work/lm_ref.csv"
  printf '{"a": [0, 0, 0], "b": [1, 0, 0], "c": [0, 1, 0]}' > "$work/lm_t1.json"
  expect 0 "correspond" -- "$ssmx" --quiet correspond --reference "$work/cohort/femur_000.ply" \
    --out "$work/corr" "$work/cohort/femur_001.ply" "$work/cohort/femur_002.ply" --format stl --json
  /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d["meshes"]) == 2 and d == json.load(open(sys.argv[2])), d
for m in d["meshes"]:
    assert m["flipped_faces"] == 0 and m["mean_distance_mm"] < 0.3 and m["output"].endswith(".stl"), m
' "$work/out" "$work/corr/correspondence.json" && ok || fail "correspond: wrong JSON: $(head -c 300 "$work/out")"
  expect 0 "info on a correspond output" -- "$ssmx" info --json "$work/corr/femur_001.stl"
  /usr/bin/python3 -c '
import json, sys
i, d = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert i["vertices"] == d["vertices"] and i["faces"] == d["faces"], (i["vertices"], d["vertices"])
' "$work/out" "$work/corr/correspondence.json" && ok || fail "correspond: output lost the reference's vertices"
  garbage_run "$work/bad/zero.stl" correspond --reference "$work/cohort/femur_000.ply" --out "$work/corr2" \
    "$work/bad/zero.stl"
  garbage_run "$work/bad/zero.stl" correspond --reference "$work/bad/zero.stl" --out "$work/corr2" \
    "$work/cohort/femur_001.ply"
  echo '{"a": [0, 0]}' > "$work/bad/lm.json"
  garbage_run "$work/bad/lm.json" correspond --reference "$work/cohort/femur_000.ply" --out "$work/corr2" \
    "$work/cohort/femur_001.ply" --landmarks "$work/lm_ref.csv" --target-landmarks "$work/bad/lm.json"
  echo 'a,1,2' > "$work/bad/lm.csv"
  garbage_run "$work/bad/lm.csv" correspond --reference "$work/cohort/femur_000.ply" --out "$work/corr2" \
    "$work/cohort/femur_001.ply" --landmarks "$work/bad/lm.csv" --target-landmarks "$work/lm_t1.json"
  expect 2 "correspond landmarks for one of two meshes" -- "$ssmx" correspond \
    --reference "$work/cohort/femur_000.ply" --out "$work/corr2" "$work/cohort/femur_001.ply" \
    "$work/cohort/femur_002.ply" --landmarks "$work/lm_ref.csv" --target-landmarks "$work/lm_t1.json"
  expect 2 "correspond --align none" -- "$ssmx" correspond --reference "$work/cohort/femur_000.ply" \
    --out "$work/corr2" "$work/cohort/femur_001.ply" --align none
  expect 2 "correspond without --reference" -- "$ssmx" correspond --out "$work/corr2" \
    "$work/cohort/femur_001.ply"
  expect 2 "correspond --tangential-weight 0" -- "$ssmx" correspond \
    --reference "$work/cohort/femur_000.ply" --out "$work/corr2" "$work/cohort/femur_001.ply" \
    --tangential-weight 0
  # --model: a model of the six cohort femurs fitted to one of them puts each
  # vertex back on that femur's own vertex (it is in the model's span).
  expect 0 "build-model for correspond --model" -- "$ssmx" --quiet build-model \
    "$work"/cohort/femur_00?.ply --out "$work/femur_all.h5"
  expect 0 "correspond --model" -- "$ssmx" --quiet correspond --model "$work/femur_all.h5" \
    --out "$work/corrm" "$work/cohort/femur_004.ply" --json
  /usr/bin/python3 -c '
import json, sys, numpy as np
def vertices(path):  # the binary little-endian PLY ssmx writes: double x, y, z (float normals)
    data = open(path, "rb").read()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode().split("\n")
    assert "format binary_little_endian 1.0" in header and "property double x" in header, header
    n = int(next(l for l in header if l.startswith("element vertex")).split()[2])
    fields = [("x", "<f8"), ("y", "<f8"), ("z", "<f8")]
    fields += [(c, "<f4") for c in ("nx", "ny", "nz") if "property float " + c in header]
    v = np.frombuffer(data, np.dtype(fields), n, end)
    return np.stack([v["x"], v["y"], v["z"]], axis=1)
d = json.load(open(sys.argv[1]))
m = d["meshes"][0]
assert d["model"].endswith("femur_all.h5") and m["output"].endswith(".ply"), d
assert m["flipped_faces"] == 0 and m["mean_distance_mm"] < 0.3 and len(m["model_coefficients"]) == 5, m
err = np.linalg.norm(vertices(m["output"]) - vertices(sys.argv[2]), axis=1).mean()
assert err < 0.5, err
' "$work/out" "$work/cohort/femur_004.ply" && ok || fail "correspond --model: $(head -c 300 "$work/out")"
  garbage_run "$work/bad/zero.stl" correspond --model "$work/bad/zero.stl" --out "$work/corr2" \
    "$work/cohort/femur_001.ply"
  expect 2 "correspond --model and --reference" -- "$ssmx" correspond --model "$work/femur_all.h5" \
    --reference "$work/cohort/femur_000.ply" --out "$work/corr2" "$work/cohort/femur_001.ply"
  expect 2 "correspond --noise with a letter" -- "$ssmx" correspond --model "$work/femur_all.h5" \
    --noise 4,x --out "$work/corr2" "$work/cohort/femur_001.ply"
  expect 2 "correspond --noise 0" -- "$ssmx" correspond --model "$work/femur_all.h5" \
    --noise 4,0 --out "$work/corr2" "$work/cohort/femur_001.ply"
  expect 2 "correspond --no-refine without --model" -- "$ssmx" correspond \
    --reference "$work/cohort/femur_000.ply" --no-refine --out "$work/corr2" "$work/cohort/femur_001.ply"
  [ ! -e "$work/corr2" ] && ok || fail "a refused correspond left $work/corr2"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
