"""The image definitions and the kind targets, checked without Docker (none on this machine):
what the Dockerfiles copy exists and reaches the build context, their entry points run what
exists, the fake base manifest uses the fake base image, and the kind targets stop with a clear
message when kind or Docker is missing."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from module_controller_dev.fakearklet.__main__ import parse_args as fakearklet_args

REPO = Path(__file__).resolve().parents[2]
DOCKERFILES = ("Dockerfile", "Dockerfile.fakebase")
FAKE_BASE = REPO / "config" / "fake-base"


# ---------------------------------------------------------------------- a small Dockerfile reader

def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = (REPO / dockerfile).read_text()
    logical, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        logical.append(current + stripped)
        current = ""
    assert not current, f"{dockerfile} ends inside a continued line"
    out = []
    for entry in logical:
        word, _, rest = entry.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def args_of(dockerfile: str) -> dict[str, str]:
    return {name: value for word, rest in instructions(dockerfile) if word == "ARG"
            for name, _, value in [rest.partition("=")]}


def exec_form(dockerfile: str, word: str) -> list[str]:
    found = [rest for w, rest in instructions(dockerfile) if w == word]
    assert len(found) == 1, f"{dockerfile}: {len(found)} {word} instructions"
    value = json.loads(found[0])  # exec form only: no shell between the signal and the process
    assert isinstance(value, list) and all(isinstance(v, str) for v in value)
    return value


def context_copies(dockerfile: str) -> list[str]:
    """Sources of COPY/ADD from the build context (not --from=another stage)."""
    sources = []
    for word, rest in instructions(dockerfile):
        if word not in ("COPY", "ADD"):
            continue
        parts = rest.split()
        flags = [p for p in parts if p.startswith("--")]
        paths = [p for p in parts if not p.startswith("--")]
        if any(flag.startswith("--from=") for flag in flags):
            continue
        sources += paths[:-1]
    return sources


def dockerignore_patterns() -> list[tuple[bool, re.Pattern[str]]]:
    """(exclude?, regex) per line of .dockerignore; `*` stays inside one path element, `**`
    crosses them, the last matching line wins (as Docker's builder reads it)."""
    rules = []
    for line in (REPO / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        exclude = not line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex += "(?:.*/)?"
                i += 3
            elif pattern.startswith("**", i):
                regex += ".*"
                i += 2
            elif pattern[i] == "*":
                regex += "[^/]*"
                i += 1
            elif pattern[i] == "?":
                regex += "[^/]"
                i += 1
            else:
                regex += re.escape(pattern[i])
                i += 1
        rules.append((exclude, re.compile(regex + r"\Z")))
    return rules


def in_context(path: str) -> bool:
    """Whether .dockerignore lets ``path`` (relative to the repository) into the build context.
    A path is excluded when it or one of its parent directories is."""
    rules = dockerignore_patterns()
    parts = path.strip("/").split("/")
    excluded = False
    for exclude, regex in rules:
        if any(regex.match("/".join(parts[:n])) for n in range(1, len(parts) + 1)):
            excluded = exclude
    return not excluded


# ---------------------------------------------------------------------- Dockerfiles

@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_dockerfile_copies_only_what_exists_and_is_in_the_context(dockerfile):
    sources = context_copies(dockerfile)
    assert sources, f"{dockerfile} copies nothing from the context"
    for source in sources:
        path = REPO / source
        assert path.exists(), f"{dockerfile} copies {source}, which does not exist"
        files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
        for file in files:
            rel = file.relative_to(REPO).as_posix()
            if "__pycache__" in rel or rel.endswith(".pyc"):
                continue
            assert in_context(rel), f"{rel} (copied by {dockerfile}) is excluded by .dockerignore"
    # The package build needs the readme pyproject.toml names.
    readme = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["readme"]
    assert readme in sources


def test_dockerignore_keeps_the_context_small():
    for path in (".venv/bin/python", ".git/HEAD", "tests/conftest.py", "bench/module_bench.py",
                 "module_controller/__pycache__/cli.cpython-311.pyc", "config/deploy/00-namespace.yaml"):
        assert not in_context(path), path
    for path in ("pyproject.toml", "README.md", "module_controller/cli.py",
                 "module_controller/manifests/templates/deployment.yaml.j2"):
        assert in_context(path), path


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_dockerfile_is_multi_stage_on_python_slim_and_non_root(dockerfile):
    steps = instructions(dockerfile)
    froms = [rest for word, rest in steps if word == "FROM"]
    assert len(froms) >= 2, "multi-stage: a build stage and a clean runtime stage"
    assert args_of(dockerfile)["PYTHON_IMAGE"] == "python:3.11-slim"
    assert all(f.split()[0] == "${PYTHON_IMAGE}" for f in froms)
    # The runtime stage takes the virtualenv from the build stage and nothing from the context.
    runtime = steps[max(i for i, (word, _) in enumerate(steps) if word == "FROM"):]
    assert any(word == "COPY" and rest.startswith("--from=build /opt/venv") for word, rest in runtime)
    assert not [rest for word, rest in runtime if word in ("COPY", "ADD") and "--from=" not in rest]
    users = [rest for word, rest in runtime if word == "USER"]
    assert users == ["65532:65532"], "numeric non-root user, so runAsNonRoot can be verified"
    # Nothing is written at run time: bytecode compiled at build time, HOME on the /tmp emptyDir.
    env = " ".join(rest for word, rest in runtime if word == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env and "HOME=/tmp" in env


def test_controller_image_entry_point():
    assert exec_form("Dockerfile", "ENTRYPOINT") == ["module-controller"]
    assert exec_form("Dockerfile", "CMD") == ["run"]
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["module-controller"] == "module_controller.cli:main"


def test_fakebase_image_runs_the_fake_arklet_on_all_addresses():
    entry = exec_form("Dockerfile.fakebase", "ENTRYPOINT")
    assert entry[:3] == ["python", "-m", "module_controller_dev.fakearklet"]
    assert (REPO / "dev" / "module_controller_dev" / "fakearklet" / "__main__.py").exists()
    args = fakearklet_args(entry[3:] + exec_form("Dockerfile.fakebase", "CMD"))
    assert (args.host, args.port, args.control_port) == ("0.0.0.0", 1238, 1239)


# ---------------------------------------------------------------------- the fake base manifest

def fake_base_objects() -> list[dict]:
    files = sorted(FAKE_BASE.glob("*.yaml"))
    assert files, "config/fake-base/ is empty"
    return [doc for path in files for doc in yaml.safe_load_all(path.read_text()) if doc]


def makefile_default(variable: str) -> str:
    match = re.search(rf"^{variable}\s*\?=\s*(\S+)\s*$", (REPO / "Makefile").read_text(), re.M)
    assert match, f"Makefile does not define {variable}"
    return match.group(1)


def test_fake_base_manifest_uses_the_fake_base_image():
    objects = fake_base_objects()
    [deployment] = [o for o in objects if o["kind"] == "Deployment"]
    assert deployment["metadata"]["name"] == "dynamic-stock-deployment"
    spec = deployment["spec"]
    assert spec["selector"]["matchLabels"] == {"app": "dynamic-stock"}
    assert spec["template"]["metadata"]["labels"]["app"] == "dynamic-stock"
    [base] = spec["template"]["spec"]["containers"]
    assert base["image"] == makefile_default("FAKEBASE_IMAGE")  # what `make kind-deploy` builds
    assert {"name": "arklet", "containerPort": 1238, "protocol": "TCP"} in base["ports"]
    # Its args are appended to the image's entry point and must parse there.
    entry = exec_form("Dockerfile.fakebase", "ENTRYPOINT")[3:]
    parsed = fakearklet_args(entry + base["args"])
    assert parsed.host == "0.0.0.0" and parsed.port == 1238
    env = {e["name"] for e in base.get("env", [])}
    assert {m.group(1) for a in base["args"] for m in re.finditer(r"\$\((\w+)\)", a)} <= env
    # The samples release onto this Deployment in their own namespace: no namespace pinned here.
    assert "namespace" not in deployment["metadata"]


def test_controller_image_name_is_the_same_everywhere():
    image = makefile_default("CONTROLLER_IMAGE")
    from module_controller.manifests.render import DEFAULT_IMAGE

    assert image == DEFAULT_IMAGE == "module-controller:dev"


# ---------------------------------------------------------------------- kind targets

def make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "--no-print-directory", "-o", ".venv/.installed", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("target", ["kind-up", "kind-deploy", "kind-down"])
def test_kind_targets_say_kind_is_missing(target):
    result = make(target, "KIND=/nonexistent/kind")
    assert result.returncode != 0
    assert "'/nonexistent/kind' not found" in result.stderr
    assert "kind.sigs.k8s.io" in result.stderr


@pytest.mark.parametrize("target", ["kind-up", "kind-deploy"])
def test_kind_targets_say_docker_is_missing(target):
    result = make(target, "KIND=true", "DOCKER=/nonexistent/docker")
    assert result.returncode != 0
    assert "'/nonexistent/docker' not found" in result.stderr


@pytest.mark.parametrize("target", ["kind-up", "kind-deploy"])
def test_kind_targets_say_no_docker_engine_answers(target):
    # `false` exists but fails like `docker info` without a running engine.
    result = make(target, "KIND=true", "DOCKER=false")
    assert result.returncode != 0
    assert "no Docker engine answers" in result.stderr
    assert "build" not in result.stdout  # stopped before building anything
