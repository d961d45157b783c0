"""What the conformance tests and their fixtures share: the partner and the clean-up list.

(A module of its own, not ``conftest``: several ``conftest.py`` exist under ``tests/``, so
``import conftest`` could find another one.)
"""

from __future__ import annotations

from dataclasses import dataclass

from module_controller.arklet.protocol import BizRef
from module_controller_dev.realbase.build import MODULE_NAME, module_file_name


@dataclass(frozen=True)
class Partner:
    """One Arklet to talk to, and the jar urls it gets."""

    name: str  # "fake-2023", …
    generation: str  # "2023" or "2025"
    host: str
    port: int
    repo_url: str

    @property
    def real(self) -> bool:
        return self.name.startswith("real-")

    def jar_url(self, version: str) -> str:
        """The Maven-built provider jar of ``version`` for this partner's generation."""
        return f"{self.repo_url}/modules-{self.generation}/{module_file_name(version)}"

    def provider(self, version: str, *, url_version: str | None = None) -> BizRef:
        """``provider:<version>`` with the url of the ``url_version`` jar (default the same)."""
        return BizRef(MODULE_NAME, version, self.jar_url(url_version or version))


class Cleanup:
    """Bizzes a test may leave on its partner; uninstalled after the test, whatever happened."""

    def __init__(self) -> None:
        self.identities: list[tuple[str, str]] = []

    def add(self, name: str, version: str) -> None:
        if (name, version) not in self.identities:
            self.identities.append((name, version))
