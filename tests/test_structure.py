"""The layout ARCHITECTURE.md writes down: pipeline order of imports, an inference path without tfmot,
modules of a readable size."""

import ast
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "tfmfn")
MAX_LINES = 400
REASON = "Longer than 400 lines because"


def module_name(path):
    parts = os.path.relpath(path, ROOT)[: -len(".py")].split(os.sep)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def package_modules():
    found = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                found[module_name(path)] = path
    return found


def architecture_order():
    """The modules of ARCHITECTURE.md's table, in its order, as full names."""
    with open(os.path.join(ROOT, "ARCHITECTURE.md")) as stream:
        rows = re.findall(r"^\|\s*\d+\s*\|\s*`([\w.]+)`\s*\|", stream.read(), re.M)
    return ["tfmfn" if row == "tfmfn" else f"tfmfn.{row}" for row in rows]


def imports_of(path, modules):
    """Every tfmfn module `path` imports, anywhere in it: `from tfmfn.x import y` counts as importing
    tfmfn.x.y when that is a module, else tfmfn.x (a package's own __init__, which Python loads on the
    way to a submodule, is not counted)."""
    with open(path) as stream:
        tree = ast.parse(stream.read())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "tfmfn")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.split(".")[0] == "tfmfn":
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in modules else node.module)
    return found


def test_architecture_lists_every_module_once():
    order, modules = architecture_order(), package_modules()
    assert len(order) == len(set(order)), "a module appears twice in ARCHITECTURE.md"
    assert set(order) == set(modules), (
        f"ARCHITECTURE.md and tfmfn/ differ: not in the table {sorted(set(modules) - set(order))}, "
        f"not in tfmfn/ {sorted(set(order) - set(modules))}"
    )


def test_no_module_imports_one_after_it():
    order, modules = architecture_order(), package_modules()
    position = {name: index for index, name in enumerate(order)}
    backwards = []
    for name, path in modules.items():
        for imported in imports_of(path, modules):
            if imported != name and position[imported] > position[name]:
                backwards.append(f"{name} imports {imported}")
    assert not backwards, "imports against the pipeline order of ARCHITECTURE.md: " + "; ".join(sorted(backwards))


def test_the_top_of_the_package_holds_at_most_16_modules():
    top = sorted(name for name in os.listdir(PACKAGE) if name.endswith(".py"))
    assert len(top) <= 16, f"{len(top)} modules at the top of tfmfn/ ({', '.join(top)}); put library code in a folder"


def test_models_imports_nothing_after_its_rows():
    """The zoo knows nothing of how a model is trained, converted or timed."""
    order, modules = architecture_order(), package_modules()
    in_models = [name for name in order if name == "tfmfn.models" or name.startswith("tfmfn.models.")]
    last = max(order.index(name) for name in in_models)
    later = set(order[last + 1:])
    found = sorted(f"{name} imports {imported}" for name in in_models
                   for imported in imports_of(modules[name], modules) if imported in later)
    assert not found, "; ".join(found)


def test_the_import_reader_sees_function_local_imports(tmp_path):
    """The check above must see an import hidden in a function (the way import cycles get hidden)."""
    path = tmp_path / "sample.py"
    path.write_text("def f():\n    from tfmfn import demo\n    from tfmfn.data import bins\n")
    assert imports_of(str(path), package_modules()) == {"tfmfn.demo", "tfmfn.data.bins"}


def test_the_inference_path_imports_neither_tfmot_nor_training_code():
    code = ("import sys\nimport tfmfn.runtime.inference\n"
            "print(sorted(name for name in sys.modules if name.startswith(('tensorflow_model_optimization', "
            "'tfmfn.train', 'tfmfn.quantize.qat', 'tfmfn.convert', 'tfmfn.quantize.distill'))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "[]", result.stdout


@pytest.mark.parametrize("name", sorted(package_modules()))
def test_module_is_short_or_says_why(name):
    path = package_modules()[name]
    with open(path) as stream:
        text = stream.read()
    lines = text.count("\n")
    if lines > MAX_LINES:
        docstring = ast.get_docstring(ast.parse(text)) or ""
        assert REASON in docstring, f"{name} has {lines} lines; split it, or say at its top: '{REASON} ...'"
