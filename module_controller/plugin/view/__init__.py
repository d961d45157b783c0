"""What ``kubectl module`` shows and changes, computed from API objects without any I/O.

Inputs are the objects as the API server returns them (camelCase dicts): the ModuleDeployment,
its ModuleReplicaSets (revisions), its Modules (instances) and its Events. Outputs are frozen
dataclasses (the "facts") that the renderers print as a table, JSON or YAML, so the table and
``-o json`` cannot disagree; and, for the commands that write, the merge patch to send (or why
nothing needs to change).

One module per responsibility: :mod:`.reading` (tolerant reads of the objects), :mod:`.status`
(``status``), :mod:`.changes` (``promote``, ``pause``, ``resume``, ``undo``, ``set version``),
:mod:`.listings` (``list``, ``history``, ``get modules``) and :mod:`.data` (a view as JSON/YAML
data). This package re-exports what the commands use.

Vocabulary, from the release planner (``planning/release.py``): a release runs in groups;
``status.releaseStatus.currentBatch`` is the group being executed, or, while ``progress`` is
``Paused``, the group that is done and waits for confirmation before the next one starts.
``spec.confirmBatchNum: N`` confirms the pause after group N; a smaller value does nothing.
Groups are numbered 1..N in the order they run, in every command and message (behaviour §2.3.4).
"""

from .changes import Change, merge_patch, promote, set_pause, set_version, undo
from .data import to_data
from .listings import (BaseModuleRow, DeploymentRow, HistoryRow, base_modules, base_selector,
                       deployments, history)
from .reading import ViewError, current_revision, name_of, parse_time, revision_of
from .status import (ConditionView, EventView, GroupView, InstanceView, RevisionView, StatusView,
                     countdown, progress_phrase, status_view, waiting_group)

__all__ = [
    "BaseModuleRow", "Change", "ConditionView", "DeploymentRow", "EventView", "GroupView",
    "HistoryRow", "InstanceView", "RevisionView", "StatusView", "ViewError", "base_modules",
    "base_selector", "countdown", "current_revision", "deployments", "history", "merge_patch",
    "name_of", "parse_time", "progress_phrase", "promote", "revision_of", "set_pause",
    "set_version", "status_view", "to_data", "undo", "waiting_group",
]
