"""The Module reconciler executes every action of the lifecycle machine (no cluster: only the
dispatch table of controllers/module.py is looked at)."""

from __future__ import annotations

from types import SimpleNamespace

from module_controller.controllers.module import ModuleReconciler
from module_controller.planning.module_table import TABLE, Do, Row


def test_every_action_of_the_table_has_an_executor() -> None:
    reconciler = ModuleReconciler(SimpleNamespace())  # type: ignore[arg-type]
    planned = {entry.do for entry in TABLE.values() if isinstance(entry, Row)}
    assert planned == set(Do), set(Do) - planned  # no action is dead
    assert set(reconciler._do) == set(Do)
