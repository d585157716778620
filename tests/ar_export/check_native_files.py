"""Checks the native samples' non-code files: Android XML is well formed, the
Xcode project file parses as an OpenStep property list (a small parser
written here), every file it references exists, and the bundled models are a
valid GLB and USDZ. usage: check_native_files.py VIEWER_DIR"""
import os
import re
import sys
import xml.dom.minidom
import zipfile

passed = failed = 0


def check(ok, what, detail=""):
    global passed, failed
    passed, failed = passed + bool(ok), failed + (not ok)
    print(("ok   " if ok else "FAIL ") + what + (": " + detail if detail else ""))


def parse_openstep(text):
    """Parses the OpenStep plist syntax of project.pbxproj: dictionaries
    { k = v; }, arrays ( a, b, ), quoted and bare strings, /* comments */."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"^//.*$", "", text, flags=re.M)
    pos = 0

    def skip():
        nonlocal pos
        while pos < len(text) and text[pos].isspace():
            pos += 1

    def value():
        nonlocal pos
        skip()
        c = text[pos]
        if c == "{":
            pos += 1
            d = {}
            while True:
                skip()
                if text[pos] == "}":
                    pos += 1
                    return d
                k = value()
                skip()
                assert text[pos] == "=", f"expected = at {pos}"
                pos += 1
                d[k] = value()
                skip()
                assert text[pos] == ";", f"expected ; at {pos}: {text[pos:pos + 30]!r}"
                pos += 1
        if c == "(":
            pos += 1
            items = []
            while True:
                skip()
                if text[pos] == ")":
                    pos += 1
                    return items
                items.append(value())
                skip()
                if text[pos] == ",":
                    pos += 1
        if c == '"':
            end = pos + 1
            while text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            s = text[pos + 1:end]
            pos = end + 1
            return s
        m = re.compile(r"[A-Za-z0-9_$./\-+]+").match(text, pos)
        assert m, f"unexpected {text[pos:pos + 20]!r}"
        pos = m.end()
        return m.group(0)

    result = value()
    skip()
    assert pos == len(text), "trailing text"
    return result


def main():
    viewer = sys.argv[1]
    android = os.path.join(viewer, "android")
    for root, _, names in os.walk(android):
        for n in sorted(names):
            if n.endswith(".xml"):
                p = os.path.join(root, n)
                try:
                    xml.dom.minidom.parse(p)
                    check(True, f"{os.path.relpath(p, viewer)} is well-formed XML")
                except Exception as e:  # noqa: BLE001 - report any parser error
                    check(False, f"{os.path.relpath(p, viewer)} is well-formed XML", str(e))
    try:
        parse_openstep("{ a = ( b, c ; }")
        check(False, "the pbxproj parser rejects a broken file")
    except (AssertionError, IndexError):
        check(True, "the pbxproj parser rejects a broken file")
    ios = os.path.join(viewer, "ios", "SSMXQuickLook")
    pbx = parse_openstep(open(os.path.join(ios, "SSMXQuickLook.xcodeproj", "project.pbxproj")).read())
    objects = pbx["objects"]
    check(pbx["rootObject"] in objects and objects[pbx["rootObject"]]["isa"] == "PBXProject",
          "project.pbxproj parses and its root object is the project")
    check(all(re.fullmatch(r"[0-9A-F]{24}", k) for k in objects), "object ids are 24 hex digits")
    refs = [o for o in objects.values() if o["isa"] == "PBXFileReference" and o.get("sourceTree") == "<group>"]
    missing = [r["path"] for r in refs if not os.path.exists(os.path.join(ios, "SSMXQuickLook", r["path"]))]
    check(refs and not missing, f"the {len(refs)} files the project references exist", str(missing))
    dangling = [k for k, o in objects.items() for key in ("fileRef",) if key in o and o[key] not in objects]
    check(not dangling, "every build file points at a file reference", str(dangling))
    with zipfile.ZipFile(os.path.join(ios, "SSMXQuickLook", "model.usdz")) as z:
        check(z.infolist()[0].filename == "model.usda" and z.testzip() is None, "bundled model.usdz is a valid USDZ")
    glb = open(os.path.join(android, "app/src/main/assets/models/model.glb"), "rb").read(12)
    check(glb[:4] == b"glTF", "bundled model.glb is a GLB")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
