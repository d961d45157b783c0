"""Running kubectl the way a user would, against the dev cluster, always with a timeout."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from api_cases import KUBECTL

DEFAULT_TIMEOUT = 60.0


class Kubectl:
    """kubectl bound to one kubeconfig."""

    def __init__(self, kubeconfig: Path):
        self.kubeconfig = Path(kubeconfig)

    def run(self, *args: str, input: str | None = None, check: bool = True,
            timeout: float = DEFAULT_TIMEOUT) -> subprocess.CompletedProcess[str]:
        argv = [str(KUBECTL), f"--kubeconfig={self.kubeconfig}", *args]
        result = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result

    def apply(self, obj: dict[str, Any] | Sequence[dict[str, Any]], namespace: str,
              *extra: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        docs = [obj] if isinstance(obj, dict) else list(obj)
        body = {"apiVersion": "v1", "kind": "List", "items": docs} if len(docs) > 1 else docs[0]
        return self.run("apply", "-n", namespace, "-f", "-", *extra, input=json.dumps(body),
                        check=check)

    def get_json(self, *args: str) -> dict[str, Any]:
        return json.loads(self.run("get", *args, "-o", "json").stdout)

    def poll(self, args: Sequence[str], ok: Callable[[subprocess.CompletedProcess[str]], bool],
             *, input: str | None = None, timeout: float = 30.0, interval: float = 0.2,
             what: str = "kubectl output") -> subprocess.CompletedProcess[str]:
        """Run kubectl until ``ok(result)``; fail with the last output at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.run(*args, input=input, check=False)
            if ok(result):
                return result
            if time.monotonic() >= deadline:
                raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last: "
                                     f"rc={result.returncode}\n{result.stdout}\n{result.stderr}")
            time.sleep(interval)


def table(output: str) -> list[dict[str, str]]:
    """Parse one `kubectl get` table (columns separated by 2+ spaces) into rows of dicts."""
    lines = [line for line in output.splitlines() if line.strip()]
    header = lines[0].split()
    starts = [lines[0].index(name) for name in header]
    rows = []
    for line in lines[1:]:
        cells = [line[start:end].strip() for start, end in zip(starts, starts[1:] + [None])]
        rows.append(dict(zip(header, cells)))
    return rows


def sections(output: str) -> list[str]:
    """Split the output of `kubectl get a,b,c` into its tables (separated by blank lines)."""
    return [block for block in output.strip().split("\n\n") if block.strip()]
