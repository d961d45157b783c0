"""Which ModuleDeployments use a ModuleTemplate (pure): behaviour §5 asks the controller to record
whether a template is in use, in ModuleTemplate ``status.usedBy``."""

from __future__ import annotations

from typing import Any, Iterable


def template_users(module_deployments: Iterable[dict[str, Any]], template: str) -> list[str]:
    """Names (sorted) of the ModuleDeployments whose ``spec.templateRef.name`` is ``template``.

    One being deleted still counts: it uses the template until its modules are off the bases.
    """
    return sorted(deployment["metadata"]["name"] for deployment in module_deployments
                  if ((deployment.get("spec") or {}).get("templateRef") or {}).get("name") == template)


def template_refs(*module_deployments: dict[str, Any] | None) -> set[str]:
    """The templates these copies of a ModuleDeployment name (before and after a change)."""
    return {name for deployment in module_deployments if deployment is not None
            if (name := ((deployment.get("spec") or {}).get("templateRef") or {}).get("name"))}
