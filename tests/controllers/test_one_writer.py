"""Every change takes one path (docs/design.md): an API write of the controllers goes through
the writer (controllers/writer.py), whose answer is routed as its watch event would be
(controllers/routes.py). A cache filled or a queue woken by hand beside it skips the other
watchers of that change, and its later watch event is dropped as an echo. This scans the
controllers' source for such calls."""

from __future__ import annotations

import ast
from pathlib import Path

import module_controller.controllers as controllers

PACKAGE = Path(controllers.__file__).parent

#: Store mutations: only the watch path (routes.py) fills a cache; the writer marks a copy it
#: deleted (writer.py).
STORE_CALLS = {"upsert": "routes.py", "mark": "writer.py"}
#: KubeIO's writes: made by the writer alone.
KUBE_WRITES = {"create", "patch", "patch_status", "remove_finalizer", "delete", "delete_pod",
               "patch_pod_labels", "patch_deployment_labels", "ensure_service",
               "delete_owned_services"}
#: A queue woken by hand: the routes (watch path), the operator at start (every key once),
#: and a look again that no watch can ask for (a Service name taken by someone else).
WAKE_ALLOWED = {("routes.py", None), ("operator.py", "start"),
                ("module_service.py", "_recheck")}


def _chain(node: ast.expr) -> list[str]:
    """``self.ctx.kube.patch`` -> ["self", "ctx", "kube", "patch"]."""
    names: list[str] = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        names.append(node.id)
    return names[::-1]


def _calls(path: Path) -> list[tuple[str | None, list[str], int]]:
    """(enclosing function, attribute chain, line) of every call of an attribute."""
    found: list[tuple[str | None, list[str], int]] = []

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(child, child.name)
                continue
            if isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute):
                found.append((function, _chain(child.func), child.lineno))
            visit(child, function)

    visit(ast.parse(path.read_text()), None)
    return found


def bypasses(path: Path) -> list[str]:
    name = path.name
    out = []
    for function, chain, line in _calls(path):
        where = f"{name}:{line} {'.'.join(chain)}"
        method, receiver = chain[-1], chain[:-1]
        if method in STORE_CALLS and name != STORE_CALLS[method]:
            out.append(where)
        elif method in KUBE_WRITES and receiver[-1:] == ["kube"] and name != "writer.py":
            out.append(where)
        elif receiver[-1:] == ["wake"] and method not in ("failures", "register") and \
                (name, None) not in WAKE_ALLOWED and (name, function) not in WAKE_ALLOWED:
            out.append(where)
    return out


def test_no_controller_writes_or_routes_beside_the_writer() -> None:
    found = [hit for path in sorted(PACKAGE.glob("*.py"))
             for hit in bypasses(path)]
    assert found == [], "write through controllers/writer.py (Writer), not by hand: " \
        + "; ".join(found)


def test_the_scan_sees_a_bypass(tmp_path: Path) -> None:
    """The scan itself: each kind of bypass, as the code had them before the writer."""
    source = '''
async def _retire_base(self, namespace, pod_name):
    updated = await self.ctx.kube.patch_pod_labels(namespace, pod_name, {})
    self.ctx.pods.upsert(updated)
    self.ctx.wake.base_pod((namespace, pod_name))
'''
    sample = tmp_path / "modulereplicaset.py"
    sample.write_text(source)
    assert bypasses(sample) == ["modulereplicaset.py:3 self.ctx.kube.patch_pod_labels",
                                "modulereplicaset.py:4 self.ctx.pods.upsert",
                                "modulereplicaset.py:5 self.ctx.wake.base_pod"]
