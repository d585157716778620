#!/usr/bin/env bash
# Runs one independent check of the files made by make_files.sh, skipping
# (exit 77) with a clear message when its tool or the files are absent.
# usage: run_check.sh OUT validator|files|viewer-femur|viewer-heat|viewer-leg|tinyusdz|blender
set -uo pipefail
out="$1"
what="$2"
here="$(cd "$(dirname "$0")" && pwd)"
modules="$here/../../ar_export/viewer/node_modules"
skip() { echo "SKIP: $*"; exit 77; }
if [ "$what" != native-samples ]; then
  [ -f "$out/expected.json" ] || skip "no test files in $out (real meshes absent; set SSMX_DATA)"
fi
need_node() {
  command -v node > /dev/null || skip "node is not installed (scripts/setup.sh installs it)"
  [ -d "$modules/$1" ] || skip "$modules/$1 is missing; run scripts/setup.sh (npm ci in ar_export/viewer)"
}
[ "$what" = native-samples ] || cd "$out"
case "$what" in
  validator)
    need_node gltf-validator
    node "$here/validate_gltf.js" femur.glb femur_heat.glb leg.glb femur_100k.glb femur_default.glb > validator.jsonl
    status=$?
    /usr/bin/python3 -c '
import json, sys
ok = 0
for line in open("validator.jsonl"):
    d = json.loads(line)
    good = d["errors"] == 0 and d["warnings"] == 0
    ok += good
    print(("ok   " if good else "FAIL ") + "glTF-Validator %s on %s: %d errors, %d warnings, %d infos, %d hints %s" % (
        d["validator"], d["file"], d["errors"], d["warnings"], d["infos"], d["hints"], d["messages"][:5]))
n = sum(1 for _ in open("validator.jsonl"))
d = json.loads(open("validator.jsonl").read().splitlines()[-1])
tri = d["info"]["totalTriangleCount"]
small = tri <= 50000 and __import__("os").path.getsize("femur_default.glb") < 3e6
print(("ok   " if small else "FAIL ") + "default export of 189k faces: %d triangles, %d bytes (<= 50000, < 3 MB)" % (tri, __import__("os").path.getsize("femur_default.glb")))
ok += small
print("%d passed, %d failed" % (ok, 6 - ok))
sys.exit(0 if ok == 6 else 1)'
    exit $(( status != 0 || $? != 0 ))
    ;;
  files)
    rc=0
    for m in usdz glb obj; do
      /usr/bin/python3 "$here/check_files.py" $m femur.$m femur.ply || rc=1
      /usr/bin/python3 "$here/check_files.py" $m femur_heat.$m femur_heat.ply --heat uncertainty_mm || rc=1
      /usr/bin/python3 "$here/check_files.py" $m leg.$m tibia_left.ply fibula_left.ply patella_left.ply || rc=1
    done
    exit $rc
    ;;
  viewer-*)
    need_node puppeteer-core
    case_name="${what#viewer-}"
    [ -x /usr/bin/chromium ] || skip "/usr/bin/chromium is missing (scripts/setup.sh installs Debian's chromium)"
    node "$here/browser_test.js" viewer "viewer_$case_name" "expect_$case_name.json" "$out/screenshot_$case_name.png"
    ;;
  tinyusdz)
    need_node tinyusdz
    [ -x /usr/bin/chromium ] || skip "/usr/bin/chromium is missing (scripts/setup.sh installs Debian's chromium)"
    rc=0
    node "$here/browser_test.js" usdz femur.usdz expect_femur.json || rc=1
    node "$here/browser_test.js" usdz femur_heat.usdz expect_heat.json || rc=1
    node "$here/browser_test.js" usdz leg.usdz expect_leg.json || rc=1
    exit $rc
    ;;
  blender)
    command -v blender > /dev/null || skip "blender is not installed (Debian package blender; optional)"
    rc=0
    for f in femur.glb:expect_femur.json leg.glb:expect_leg.json leg.obj:expect_leg.json; do
      blender -b --factory-startup --python "$here/blender_check.py" -- "$out/${f%%:*}" "$out/${f##*:}" 2>&1 |
        grep -E '^(ok|FAIL|[0-9]+ passed)' || rc=1
      [ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
    done
    exit $rc
    ;;
  native-samples)
    need_node web-tree-sitter
    [ -d "$modules/tree-sitter-wasms" ] || skip "tree-sitter-wasms missing; run scripts/setup.sh"
    viewer="$here/../../ar_export/viewer"
    cd "$here"  # not $out: the file fixture may recreate it meanwhile
    rc=0
    node "$here/check_native_syntax.js" "$viewer/ios" "$viewer/android" || rc=1
    /usr/bin/python3 "$here/check_native_files.py" "$viewer" || rc=1
    exit $rc
    ;;
  *) echo "unknown check $what"; exit 2 ;;
esac
