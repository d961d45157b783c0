"""docs/design.md's "Map of the code" and README.md's "Layout" against the tree.

The parsing rule, kept simple so that the docs can follow it:

- Only the table rows of the section are read; the ``where`` (design.md) or ``path``
  (README.md) cell is scanned for backticked spans, left to right.
- A span is a *path* when it has a ``/``, starts with ``.``, or ends in a file suffix
  (``.py``, ``.toml``, ``.md``, ``.json``, ``.yaml``). A path is looked up, in this order,
  beside the previous path of the cell (so ``modulereplicaset.py`` after
  ``controllers/module_removal.py`` means ``controllers/modulereplicaset.py``),
  under ``module_controller/``, and under the repository root; one of them must exist.
- A span that is an identifier, optionally dotted, optionally ending in ``()``, is a *symbol*
  claimed of the last ``.py`` path before it in the cell: ``name`` must be defined in that file
  (a function, class, or name assigned at module level, or a method or attribute in the body
  of one of its classes); ``Class.member``
  must be defined in that class; ``module.name`` (where ``module.py`` sits beside the file) must
  be defined in that module. A trailing ``*`` (``pod_*``) asks for at least one such name.
- Anything else (labels such as ``delete-pod``, commands, reason strings) is prose, not checked.
  A symbol the rule cannot check is listed in ``NOT_CHECKED`` with the reason.
"""
from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "module_controller"
DEV_PACKAGE = ROOT / "dev" / "module_controller_dev"

# span -> why the rule cannot check it
NOT_CHECKED = {
    "module_controller": "a distribution's name, named before any path",
    "module_controller_dev": "a distribution's name, named before any path",
    "Configuration": "kubernetes_asyncio's class, used (not defined) by kube/client.py",
    "RESTClientObject": "kubernetes_asyncio's class, subclassed in kube/client.py",
    "HTTPS_PROXY": "an environment variable",
    "NO_PROXY": "an environment variable",
    "BaseGone": "an Event reason (module_table.Reason.BASE_GONE), not a Python name",
    "releaseStatus": "a field of upstream's objects",
    "cryptography": "a dependency's name",
}

PATH_SUFFIXES = (".py", ".toml", ".md", ".json", ".yaml")
SYMBOL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?\*?(\(\))?$")
SPAN = re.compile(r"`([^`]+)`")


def table_rows(doc: Path, heading: str) -> list[list[str]]:
    """Cells of the table rows under ``## heading`` up to the next ``## ``."""
    lines = doc.read_text().splitlines()
    start = lines.index(f"## {heading}")
    rows = []
    for line in lines[start + 1:]:
        if line.startswith("## "):
            break
        if line.startswith("|") and not line.startswith("|---"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    assert rows, f"no table under {heading!r} in {doc}"
    return rows[1:]  # the header row


def is_path(span: str) -> bool:
    return "/" in span or span.startswith(".") or span.endswith(PATH_SUFFIXES)


def resolve(span: str, beside: Path | None) -> Path | None:
    bases = ([beside] if beside is not None else []) + [PACKAGE, ROOT]
    for base in bases:
        if (base / span).exists():
            return base / span
    return None


@cache
def definitions(path: Path) -> dict[str, set[str]]:
    """Names defined in ``path``: ``""`` maps to the module level, a class name to its body."""
    tree = ast.parse(path.read_text())
    found: dict[str, set[str]] = {"": set()}

    def names_of(body: list[ast.stmt]) -> set[str]:
        names: set[str] = set()
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
        return names

    found[""] = names_of(tree.body)
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            found[node.name] = names_of(node.body)
    return found


def defined(symbol: str, path: Path) -> bool:
    name = symbol.removesuffix("()")
    owner, _, member = name.rpartition(".")
    defs = definitions(path)
    if owner and owner in defs[""] and owner in defs:
        scope = defs[owner]
    elif owner and (path.parent / f"{owner}.py").exists():
        scope = definitions(path.parent / f"{owner}.py")[""]
    elif owner:
        return False
    else:
        scope = set().union(*defs.values())
    if member.endswith("*"):
        return any(n.startswith(member[:-1]) for n in scope)
    return member in scope


def claims(cell: str) -> tuple[list[str], list[str]]:
    """(problems, unparsed spans) of one cell."""
    problems, unparsed = [], []
    beside: Path | None = None
    source: Path | None = None
    for span in SPAN.findall(cell):
        if is_path(span):
            found = resolve(span, beside)
            if found is None:
                problems.append(f"`{span}` does not exist")
                continue
            beside = found.parent
            source = found if found.suffix == ".py" else None
        elif SYMBOL.match(span):
            if span in NOT_CHECKED:
                continue
            if source is None:
                unparsed.append(span)
            elif not defined(span, source):
                problems.append(f"`{span}` is not defined in {source.relative_to(ROOT)}")
    return problems, unparsed


def test_design_map_claims_hold():
    problems = []
    for question, where in table_rows(ROOT / "docs" / "design.md", "Map of the code"):
        wrong, unparsed = claims(where)
        problems += [f"{question} {w}" for w in wrong]
        problems += [f"{question} `{u}`: a symbol after no .py path (name it after its file, "
                     "or add it to NOT_CHECKED with why)" for u in unparsed]
    assert not problems, "\n".join(problems)


def test_not_checked_is_needed():
    """An allowlist entry the map no longer uses is removed."""
    text = (ROOT / "docs" / "design.md").read_text()
    stale = [span for span in NOT_CHECKED if f"`{span}`" not in text]
    assert not stale, stale


def readme_paths() -> list[str]:
    """Every path of README's layout table; a later span of a cell sits beside the first one
    when such a path exists there, else it is relative to the repository root."""
    paths = []
    for cell, _what in table_rows(ROOT / "README.md", "Layout"):
        spans = SPAN.findall(cell)
        first = spans[0].rstrip("/")
        base = str(Path(first).parent)
        paths.append(first)
        for span in spans[1:]:
            beside = Path(base) / span.rstrip("/")
            paths.append(str(beside) if (ROOT / beside).exists() else span.rstrip("/"))
    return paths


def test_readme_layout_paths_exist():
    missing = [p for p in readme_paths() if not (ROOT / p).exists()]
    assert not missing, missing


@pytest.mark.parametrize("package", [PACKAGE, DEV_PACKAGE], ids=lambda p: p.name)
def test_readme_layout_lists_every_package(package: Path):
    listed = set(readme_paths())
    packages = sorted(str(init.parent.relative_to(ROOT)) for init in package.rglob("__init__.py")
                      if init.parent != package and "__pycache__" not in init.parts)
    unlisted = [p for p in packages if p not in listed]
    assert not unlisted, unlisted
