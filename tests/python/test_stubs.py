"""The type stubs (ssmx/*.pyi) describe exactly what the modules define.

For every public name of ssmx, ssmx.ssm, ssmx.drr, ssmx.registration and
ssmx.ar_export: the stub
declares it, and for functions and methods with the same parameter names (in
order) as the compiled signature pybind11 records in the docstring. Names only
in the stubs, or only at runtime, fail the test.
"""

import ast
import inspect
import pathlib
import re

import pytest

import ssmx

PACKAGE = pathlib.Path(ssmx.__file__).parent
MODULES = {
    "__init__": ssmx,
    "ssm": ssmx.ssm,
    "drr": ssmx.drr,
    "registration": ssmx.registration,
    "ar_export": ssmx.ar_export,
}


def _split_top_level(text):
    parts, depth, current, quote = [], 0, "", None
    for ch in text:
        if quote:
            current += ch
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "([{<":
            depth += 1
        elif ch in ")]}>":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        current += ch
    if current.strip():
        parts.append(current.strip())
    return parts


def _runtime_signatures(name, obj):
    """Parameter-name lists of every pybind11 overload of `obj` (from its docstring)."""
    doc = (obj.__doc__ or "").replace(name + "(*args, **kwargs)\n", "")
    pattern = re.compile(r"^(?:\d+\. )?" + re.escape(name) + r"\((.*?)\) -> ", re.M | re.S)
    signatures = []
    for match in pattern.finditer(doc):
        names = []
        for part in _split_top_level(match.group(1)):
            if part == "*":
                names.append("*")
            else:
                names.append(part.split(":")[0].split("=")[0].strip())
        signatures.append(tuple(n for n in names if n != "self"))
    return set(signatures)


def _stub_params(node):
    args = node.args
    names = [a.arg for a in args.posonlyargs + args.args]
    if args.kwonlyargs:
        names += ["*"] + [a.arg for a in args.kwonlyargs]
    if args.vararg or args.kwarg:
        names.append("**")
    return tuple(n for n in names if n not in ("self", "cls"))


def _stub_members(body):
    functions, others = {}, set()
    for node in body:
        if isinstance(node, ast.FunctionDef):
            decorators = {getattr(d, "id", getattr(d, "attr", "")) for d in node.decorator_list}
            if "property" in decorators or "setter" in decorators:
                others.add(node.name)
            else:
                functions.setdefault(node.name, set()).add(_stub_params(node))
        elif isinstance(node, ast.ClassDef):
            others.add(node.name)
        elif isinstance(node, ast.AnnAssign):
            others.add(node.target.id)
    return functions, others


def _public(names):
    return {n for n in names if not n.startswith("_") or n == "__version__"}


@pytest.mark.parametrize("stub", sorted(MODULES))
def test_stub_matches_module(stub):
    module = MODULES[stub]
    tree = ast.parse((PACKAGE / f"{stub}.pyi").read_text())
    functions, others = _stub_members(tree.body)
    stub_names = _public(set(functions) | others)
    runtime = {n for n in _public(dir(module)) if not inspect.ismodule(getattr(module, n))}
    assert stub_names - runtime == set(), "declared in the stub but not defined"
    assert runtime - stub_names == set(), "defined but missing from the stub"
    for name, overloads in functions.items():
        obj = getattr(module, name)
        if obj.__module__.startswith("ssmx._core"):
            assert overloads == _runtime_signatures(name, obj), name
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    for node in classes:
        cls = getattr(module, node.name)
        if issubclass(cls, BaseException):
            continue
        methods, attributes = _stub_members(node.body)
        declared = _public(set(methods) | attributes) | ({"__init__"} & set(methods))
        constructible = bool(_runtime_signatures("__init__", cls.__init__))
        actual = _public(vars(cls)) | ({"__init__"} if constructible else set())
        assert declared == actual, node.name
        for name, overloads in methods.items():
            member = getattr(cls, name)
            assert overloads == _runtime_signatures(name, member), f"{node.name}.{name}"


def test_package_ships_py_typed():
    assert (PACKAGE / "py.typed").exists()
