"""Every `behaviour §N` cited in the code, the tests and the docs names a rule that
docs/behaviour.md has, so a maintainer can follow each citation inside the repository."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CITATION = re.compile(r"behaviour §(\d+(?:\.\d+)*)")
# "## 2. ModuleDeployment", "### 2.3 A release", "2.3.4. A group is complete ..."
RULE = re.compile(r"^(?:#{2,3} )?(\d+(?:\.\d+)*)\.? ", re.M)


def rules() -> set[str]:
    return set(RULE.findall((REPO / "docs" / "behaviour.md").read_text()))


def citations() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for pattern in ("module_controller/**/*.py", "tests/**/*.py", "docs/*.md", "README.md"):
        for path in REPO.glob(pattern):
            for number in CITATION.findall(path.read_text(errors="replace")):
                found.setdefault(number, set()).add(str(path.relative_to(REPO)))
    return found


def test_the_contract_has_numbered_rules():
    assert {"0", "2.3", "2.3.4", "4.3", "6.1", "7.2", "9.4"} <= rules()


def test_every_citation_names_a_rule_of_the_contract():
    cited = citations()
    assert len(cited) >= 10, "the code cites the contract"
    missing = {number: sorted(paths) for number, paths in cited.items() if number not in rules()}
    assert not missing, f"cited but not in docs/behaviour.md: {missing}"


def test_no_citation_points_outside_the_repository():
    old = "SPEC" + " §"  # the original specification, which is not in the repository
    outside = [str(p.relative_to(REPO)) for pattern in ("module_controller/**/*.py", "tests/**/*.py")
               for p in REPO.glob(pattern) if old in p.read_text(errors="replace")]
    assert not outside, outside
