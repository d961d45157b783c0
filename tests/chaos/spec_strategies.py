"""Hypothesis strategies: random ModuleDeployment specs, valid ones and invalid ones that know
which field is wrong.

Valid values stay inside the documented rules (behaviour §1, §2.1; docs/api.md): DNS-1035 module names
of at most 55 characters, label-value versions, http(s)/file URLs, the enum spellings of seed 003,
int-or-percent ``maxUnavailable``, IANA service port names, … An invalid spec is a valid one with
exactly one :class:`Breakage` applied: either generated here (a value just outside a rule) or one
of the hand-written cases of ``tests/api/api_cases.py`` (the table the API tests use).
"""

from __future__ import annotations

import copy
import random
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

from module_controller.api import constants as c

_CASES_PATH = Path(__file__).resolve().parents[1] / "api" / "api_cases.py"


def _load_api_cases():
    """``tests/api/api_cases.py`` under a private name (the api tests import it as a top-level
    module from their own directory; this must not collide with that)."""
    spec = importlib.util.spec_from_file_location("chaos_api_cases", _CASES_PATH)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


API_CASES = _load_api_cases()
DELETE = API_CASES.DELETE
MD_CASES = [case for case in API_CASES.INVALID if case.kind == "ModuleDeployment"]

OS = "spec.operationStrategy"
MDM = "spec.template.spec.module"

# ----------------------------------------------------------------- valid values

dns_label = st.from_regex(r"\A[a-z]([a-z0-9-]{0,20}[a-z0-9])?\Z")
module_names = st.from_regex(r"\A[a-z]([a-z0-9-]{0,40}[a-z0-9])?\Z")
subdomains = st.from_regex(
    r"\A[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?)?\Z")
versions = st.from_regex(r"\A[A-Za-z0-9]([A-Za-z0-9_.-]{0,30}[A-Za-z0-9])?\Z")
hex32 = st.from_regex(r"\A[0-9a-fA-F]{32}\Z")
POLICIES = ["install_then_uninstall", "installThenUninstall", "uninstall_then_install",
            "uninstallThenInstall", "scaleup_then_scaledown", "scaleupThenScaledown"]
SCHEDULING = ["scatter", "Scatter", "stacking", "Stacking"]
PORT_NAMES = ["http", "web-8080", "grpc", "a", "metrics-port-15"[:15]]


def _url(name: str, version: str) -> st.SearchStrategy[str]:
    return st.sampled_from([
        f"http://repo.example.com/modules/{name}-{version}-ark-biz.jar",
        f"https://oss.example.com/{name}.jar?Expires=1&Sig=a%2F",
        f"file:///opt/modules/{name}-{version}.jar",
    ])


def _coin(draw) -> random.Random:
    """Structural decisions (which optional fields, valid or not, which breakage) come from a
    Random seeded with a wide integer drawn from hypothesis: hypothesis's own booleans, small
    integers and ``sampled_from`` lean hard towards False, 0 and the first element, which would
    make most specs minimal and most breakages the same one."""
    return random.Random(draw(st.integers(0, 2**64 - 1)))


@st.composite
def modules(draw) -> dict:
    coin = _coin(draw)
    name, version = draw(module_names), draw(versions)
    module = {"name": name, "version": version, "url": draw(_url(name, version))}
    if coin.random() < 0.3:
        module["md5"] = draw(hex32)
    if coin.random() < 0.3:
        module["type"] = "jar"
    return module


@st.composite
def operation_strategies(draw) -> dict:
    coin = _coin(draw)
    out: dict[str, Any] = {}
    for key, strategy in (
        ("batchCount", st.integers(1, 5)),
        ("useBeta", st.booleans()),
        ("needConfirm", st.booleans()),
        ("grayTimeBetweenBatchSeconds", st.integers(0, 2)),
        ("upgradePolicy", st.sampled_from(POLICIES)),
        ("maxUnavailable", st.one_of(st.integers(0, 5),
                                     st.integers(0, 100).map(lambda n: f"{n}%"))),
    ):
        if coin.random() < 0.5:
            out[key] = draw(strategy)
    if coin.random() < 0.25:
        enabled = coin.random() < 0.7
        service: dict[str, Any] = {"enableModuleService": enabled}
        if enabled or coin.random() < 0.5:
            service["port"] = draw(st.integers(1, 65535))
        if coin.random() < 0.5:
            service["targetPort"] = draw(st.one_of(st.integers(1, 65535),
                                                   st.sampled_from(PORT_NAMES)))
        out["serviceStrategy"] = service
    return out


@st.composite
def valid_specs(draw, inline_only: bool = False) -> dict:
    """The ``spec`` of a valid ModuleDeployment."""
    coin = _coin(draw)
    spec: dict[str, Any] = {"baseDeploymentName": draw(subdomains)}
    if inline_only or coin.random() < 0.85:
        spec["template"] = {"spec": {"module": draw(modules())}}
    else:
        spec["templateRef"] = {"name": draw(subdomains)}
    for key, strategy in (
        ("replicas", st.integers(-1, 6)),
        ("pause", st.booleans()),
        ("confirmBatchNum", st.integers(0, 5)),
        ("minReadySeconds", st.integers(0, 2)),
        ("progressDeadlineSeconds", st.integers(1, 900)),
        ("revisionHistoryLimit", st.integers(0, 20)),
    ):
        if coin.random() < 0.5:
            spec[key] = draw(strategy)
    if coin.random() < 0.7:
        spec["operationStrategy"] = draw(operation_strategies())
    if coin.random() < 0.5:
        spec["schedulingStrategy"] = {"schedulingPolicy": draw(st.sampled_from(SCHEDULING))}
    return spec


# ----------------------------------------------------------------- breakages

@dataclass(frozen=True)
class Breakage:
    """One invalid change (dotted paths, as in api_cases) and the field the error must name."""

    id: str
    changes: dict[str, Any]
    field: str

    def apply(self, obj: dict) -> dict:
        obj = copy.deepcopy(obj)
        for path, value in self.changes.items():
            API_CASES.set_path(obj, path, value)
        return obj


def _one(case_id: str, path: str, values: st.SearchStrategy) -> st.SearchStrategy[Breakage]:
    return values.map(lambda v: Breakage(f"{case_id}={v!r}", {path: v}, path))


GENERATED_BREAKAGES = [
    _one("batchCount", f"{OS}.batchCount", st.integers(max_value=0)),
    _one("replicas", "spec.replicas", st.integers(max_value=-2)),
    _one("grayTime", f"{OS}.grayTimeBetweenBatchSeconds", st.integers(max_value=-1)),
    _one("minReady", "spec.minReadySeconds", st.integers(max_value=-1)),
    _one("progressDeadline", "spec.progressDeadlineSeconds", st.integers(max_value=0)),
    _one("revisionHistory", "spec.revisionHistoryLimit", st.integers(max_value=-1)),
    _one("confirmBatchNum", "spec.confirmBatchNum", st.integers(max_value=-1)),
    _one("name-upper", f"{MDM}.name", st.from_regex(r"\A[a-z]{0,5}[A-Z][a-z]{0,5}\Z")),
    _one("name-underscore", f"{MDM}.name", st.from_regex(r"\A[a-z]{1,5}_[a-z]{1,5}\Z")),
    _one("name-too-long", f"{MDM}.name", st.integers(56, 80).map(lambda n: "p" * n)),
    _one("version-space", f"{MDM}.version", st.from_regex(r"\A[0-9]{1,3} [0-9]{1,3}\Z")),
    _one("version-too-long", f"{MDM}.version", st.integers(64, 90).map(lambda n: "1" * n)),
    _one("url-scheme", f"{MDM}.url",
         st.sampled_from(["ftp://repo/x.jar", "repo.example.com/x.jar", "gopher://x/y.jar"])),
    _one("md5", f"{MDM}.md5", st.from_regex(r"\A[g-z]{32}\Z")),
    _one("maxUnavailable", f"{OS}.maxUnavailable",
         st.one_of(st.integers(101, 1000).map(lambda n: f"{n}%"), st.integers(max_value=-1))),
    _one("upgradePolicy", f"{OS}.upgradePolicy", st.sampled_from(["rolling", "Recreate", ""])),
    _one("scheduling", "spec.schedulingStrategy.schedulingPolicy",
         st.sampled_from(["random", "SCATTER", "spread"])),
    _one("base", "spec.baseDeploymentName",
         st.sampled_from(["Dynamic_Stock", "-stock", "stock-", "d" * 64])),
]


def _table_breakage(case) -> Breakage:
    return Breakage(f"api_cases:{case.id}", dict(case.changes), case.field)


def breakages(coin: random.Random) -> st.SearchStrategy[Breakage]:
    """Half generated, half from the api_cases table; every kind equally likely."""
    if coin.random() < 0.5:
        return GENERATED_BREAKAGES[coin.randrange(len(GENERATED_BREAKAGES))]
    return st.just(_table_breakage(MD_CASES[coin.randrange(len(MD_CASES))]))


@st.composite
def moduledeployments(draw, broken: bool) -> tuple[dict, Breakage | None]:
    """A ModuleDeployment body (no name yet) and what is wrong with it (None: it is valid).
    ``broken``: with exactly one breakage, else valid."""
    coin = _coin(draw)
    body = {"apiVersion": c.API_VERSION, "kind": "ModuleDeployment", "metadata": {},
            "spec": draw(valid_specs(inline_only=broken))}
    if broken:
        breakage = draw(breakages(coin))
        return breakage.apply(body), breakage
    return body, None


def convergeable(spec: dict, index: int, base: str) -> dict:
    """A valid generated spec made runnable on the test's bases: the real base Deployment, an
    inline template with a module name of its own, at most 3 replicas (or peer mode)."""
    spec = copy.deepcopy(spec)
    spec["baseDeploymentName"] = base
    if "template" not in spec:
        spec.pop("templateRef", None)
        spec["template"] = {"spec": {"module": {"name": "m", "version": "1.0.0",
                                                "url": "http://repo.example.com/m.jar"}}}
    module = spec["template"]["spec"]["module"]
    module["name"] = f"{module['name'].rsplit('-', 1)[0][:40]}-{index}"
    # Bases download the url and install what its manifest says: a jar of exactly this biz.
    module["url"] = (f"http://repo.example.com/biz/{quote(module['name'], safe='')}/"
                     f"{quote(str(module['version']), safe='')}/module-ark-biz.jar")
    if spec.get("replicas", 1) > 3:
        spec["replicas"] = 3
    return spec
