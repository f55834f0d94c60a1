"""ARCHITECTURE.md's module map is the code's: every module of ``model/`` has a row, and
imports only what its row's "may import" column allows, so the map cannot drift."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "model"
ROW = re.compile(r"^\| (?P<modules>[^|]+) \| (?P<job>[^|]+) \| (?P<imports>[^|]+) \|$")


def dotted(path: Path) -> str:
    """``model/fit/data.py`` -> ``fit.data``; a package's ``__init__.py`` -> the package."""
    parts = path.relative_to(MODEL).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_map() -> dict[str, list[str] | None]:
    """Each module named in the table (dotted, ``*`` for a folder's every module) -> the
    patterns it may import (``None``: anything)."""
    rules: dict[str, list[str] | None] = {}
    for line in (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8").splitlines():
        row = ROW.match(line)
        if not row or not row["modules"].lstrip().startswith("`model/"):
            continue
        names = re.findall(r"`([^`]+)`", row["modules"])
        folder = str(Path(names[0]).parent)
        imports = row["imports"].strip()
        allowed = None if imports == "any" else re.findall(r"`([^`]+)`", imports)
        if imports.startswith("nothing"):
            allowed = []
        for name in names:
            path = name if name.startswith("model/") else f"{folder}/{name}"
            if path.endswith("/*"):
                rules[path[len("model/") : -2].replace("/", ".") + ".*"] = allowed
            elif path.endswith(".py"):
                rules[dotted(ROOT / path)] = allowed
    return rules


def rule_for(module: str, rules: dict[str, list[str] | None]) -> list[str] | bool | None:
    """The row's patterns for ``module`` (False: no row names it)."""
    if module in rules:
        return rules[module]
    if f"{module}.*" in rules:  # a package's __init__, under its folder's row
        return rules[f"{module}.*"]
    package = module.rsplit(".", 1)[0] if "." in module else ""
    return rules.get(f"{package}.*", False)


def imported(path: Path) -> set[str]:
    """The ``model`` modules ``path`` imports (dotted, without ``model.``), wherever in the
    file the import is; ``from model.x import y`` counts ``x.y`` when ``y`` is a module."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            for alias in node.names:
                sub = MODEL.joinpath(*node.module.split(".")[1:], alias.name)
                if sub.with_suffix(".py").is_file() or (sub / "__init__.py").is_file():
                    names.append(f"{node.module}.{alias.name}")
            if len(names) > 1:
                names = names[1:]  # the modules themselves, not their package
        else:
            continue
        found |= {n[len("model.") :] for n in names if n.startswith("model.")}
    return found


def allows(pattern: str, module: str) -> bool:
    if pattern.endswith(".*"):
        return module == pattern[:-2] or module.startswith(pattern[:-1])
    return module == pattern


def test_every_module_has_a_row_and_imports_only_what_it_may() -> None:
    rules = module_map()
    unmapped, breaches = [], []
    for path in sorted(MODEL.rglob("*.py")):
        module = dotted(path)
        if not module or (path.name == "__init__.py" and not imported(path)):
            continue  # model/__init__.py, and packages whose __init__ is a docstring
        allowed = rule_for(module, rules)
        if allowed is False:
            unmapped.append(module)
            continue
        if allowed is None:
            continue
        for name in sorted(imported(path)):
            own_package = name == module.rsplit(".", 1)[0]
            if not own_package and not any(allows(p, name) for p in allowed):
                breaches.append(f"{module} imports {name} (may import: {allowed})")
    assert not unmapped, f"modules without a row in ARCHITECTURE.md: {unmapped}"
    assert not breaches, "\n".join(breaches)


def test_the_map_names_only_modules_that_exist() -> None:
    modules = {dotted(p) for p in MODEL.rglob("*.py")}
    for name in module_map():
        if name.endswith(".*"):
            assert any(m.startswith(name[:-1]) for m in modules), name
        else:
            assert name in modules, name


def test_the_package_never_imports_snakemake_or_the_workflow() -> None:
    for path in MODEL.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(import|from) (snakemake|workflow)\b", text, re.M), path


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    """The checks above can fail: a module importing the generator is seen."""
    source = tmp_path / "probe.py"
    source.write_text("def f():\n    from model.synth import truth\n    import model.codes\n")
    assert imported(source) == {"synth.truth", "codes"}
    assert not allows("fit.*", "synth.truth") and allows("fit.*", "fit.data")
