"""The jinja2 templates of the install set, in two dialects.

Rendered with values they give YAML objects (:mod:`.render`). Rendered with :class:`Helm`
placeholders instead of values they give the Helm chart's templates (:mod:`.chart`): a value
prints as ``{{ .Values.x }}``, ``|tojson`` as ``{{ toJson .Values.x }}``, a ``{% call when(c) %}``
block becomes a Helm ``if``, and Prometheus' own ``{{ $labels }}`` templates (``prom()``) are kept
away from Helm. So one set of templates is the source of both.
"""

from __future__ import annotations

import contextvars
import json
from typing import Any

import jinja2

_HELM_MODE: contextvars.ContextVar[bool] = contextvars.ContextVar("helm_mode", default=False)


class Helm:
    """A Helm template expression standing in for a value, to render the jinja2 templates into
    the chart's templates. Attribute access goes deeper into ``.Values``; printed it is
    ``{{ expr }}``; through ``tojson`` it is ``{{ toJson expr }}``."""

    def __init__(self, expr: str) -> None:
        self.expr = expr

    def __getattr__(self, name: str) -> "Helm":
        if name.startswith("__"):
            raise AttributeError(name)
        return Helm(f"{self.expr}.{name}")

    def __str__(self) -> str:
        return "{{ %s }}" % self.expr


def _tojson(value: Any) -> str:
    if isinstance(value, Helm):
        return "{{ toJson %s }}" % value.expr
    return jinja2.utils.htmlsafe_json_dumps(value, sort_keys=True)


def _when(condition: Any, *, caller: Any) -> str:
    """``{% call when(c) %}…{% endcall %}``: the block if ``c``, or a Helm ``if`` around it."""
    if isinstance(condition, Helm):
        return "\n{{- if %s }}%s\n{{- end }}" % (condition.expr, caller())
    return caller() if condition else ""


def _prom(text: str) -> str:
    """A YAML string holding Prometheus' own ``{{ $labels.x }}`` templates, left to Prometheus
    (a Go raw string in the chart, which Helm prints as it is)."""
    return "{{ `%s` }}" % json.dumps(text) if _HELM_MODE.get() else json.dumps(text)


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("module_controller.manifests", "templates"),
    undefined=jinja2.StrictUndefined,
    autoescape=False,  # YAML, not HTML; values go through |tojson
    keep_trailing_newline=True,
)
_ENV.filters["tojson"] = _tojson
_ENV.globals.update(when=_when, prom=_prom)

#: The templates of the controller's objects (the Namespace is the renderer's only: a Helm
#: release lives in a namespace that `helm install --create-namespace` makes).
TEMPLATES = ("deployment.yaml.j2", "service.yaml.j2", "poddisruptionbudget.yaml.j2",
             "servicemonitor.yaml.j2", "prometheusrule.yaml.j2")


def template_text(template: str, /, **values: Any) -> str:
    return _ENV.get_template(template).render(**values)


def helm_template_text(template: str, values: dict[str, Any]) -> str:
    """``template`` rendered with Helm placeholders: a template of the chart."""
    token = _HELM_MODE.set(True)
    try:
        return template_text(template, **values)
    finally:
        _HELM_MODE.reset(token)
