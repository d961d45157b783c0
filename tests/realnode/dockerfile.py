"""Read the runtime settings of the Dockerfile's final stage (what ``docker build`` would set)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path


def final_stage(dockerfile: Path, base_path: str) -> dict:
    """User, Entrypoint, Cmd, WorkingDir, Env and ExposedPorts of the last stage.

    ``base_path``: PATH of the stage's base image, for ``$PATH`` in an ENV value.
    """
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    last_from = max(i for i, ln in enumerate(lines) if ln.upper().startswith("FROM "))
    env: dict[str, str] = {"PATH": base_path}
    config: dict = {"User": "", "Entrypoint": None, "Cmd": None, "WorkingDir": "/",
                    "ExposedPorts": []}
    for line in lines[last_from + 1:]:
        word, _, rest = line.partition(" ")
        word, rest = word.upper(), rest.strip()
        if word == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                env[key] = re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), ""), value)
        elif word == "USER":
            config["User"] = rest
        elif word == "WORKDIR":
            config["WorkingDir"] = rest
        elif word in ("ENTRYPOINT", "CMD"):
            config[word.title() if word == "CMD" else "Entrypoint"] = json.loads(rest)
        elif word == "EXPOSE":
            config["ExposedPorts"] += [p if "/" in p else f"{p}/tcp" for p in rest.split()]
    config["Env"] = {k: v for k, v in env.items()}
    return config
