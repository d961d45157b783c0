"""The pure parts of the real-base tooling: cache naming, command lines, and the one-line errors
when Java or Maven is missing (simulated by a PATH that holds neither)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from module_controller_dev.realbase import build, jvm
from module_controller_dev.realbase.build import Jars, RealBaseUnavailable


def test_cache_dir_is_named_after_the_sources(tmp_path, monkeypatch):
    src = tmp_path / "maven"
    shutil.copytree(build.MAVEN_DIR, src, ignore=shutil.ignore_patterns("target"))
    monkeypatch.setenv("MODULE_CONTROLLER_CACHE", str(tmp_path / "cache"))
    first = build.cache_dir(src)
    assert first.parent == tmp_path / "cache"
    assert first.name.startswith("realbase-") and len(first.name) == len("realbase-") + 12
    # build output does not count, an edit to a POM does
    (src / "base-2025" / "target").mkdir()
    (src / "base-2025" / "target" / "x.jar").write_bytes(b"x")
    assert build.cache_dir(src) == first
    pom = src / "module-2025" / "pom.xml"
    pom.write_text(pom.read_text() + "\n")
    assert build.cache_dir(src) != first


def test_prune_stale_keeps_the_current_build_and_other_caches(tmp_path):
    keep = tmp_path / "realbase-aaaaaaaaaaaa"
    old = tmp_path / "realbase-bbbbbbbbbbbb"
    other = tmp_path / "k8s-v1.36.3-etcd-v3.6.8"
    for d in (keep, old, other):
        d.mkdir()
        (d / "x.jar").write_bytes(b"x")
    assert build.prune_stale(keep, log=lambda m: None) == [old]
    assert keep.is_dir() and other.is_dir() and not old.exists()


def test_cache_dir_follows_xdg_cache_home(tmp_path, monkeypatch):
    monkeypatch.delenv("MODULE_CONTROLLER_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert build.cache_dir().parent == tmp_path / "module-controller"


def test_the_repository_holds_no_build_output():
    assert not list(build.MAVEN_DIR.rglob("target")), "Maven ran inside the repository"
    assert not list(build.MAVEN_DIR.rglob("*.jar"))


def test_jar_layout():
    jars = Jars(Path("/c"))
    assert jars.base("2025") == Path("/c/base-2025.jar")
    assert jars.module("2023", "2.0.0") == Path("/c/modules-2023/dynamic-provider-2.0.0-ark-biz.jar")
    assert len(jars.all()) == 6
    with pytest.raises(ValueError):
        jars.base("2024")


def test_override_dir_is_used_and_never_built_into(tmp_path, monkeypatch):
    monkeypatch.setenv(build.ENV_OVERRIDE, str(tmp_path))
    assert build.jar_dir() == tmp_path
    assert build.find() is None
    with pytest.raises(RealBaseUnavailable, match="run `make jars`"):
        build.ensure(log=lambda m: None)
    assert list(tmp_path.iterdir()) == []


def test_maven_argv_sets_the_module_version_without_touching_revision():
    argv = build.maven_argv("mvn", projects=["module-2025"], module_version="2.0.0",
                            goals=["clean", "package"])
    assert argv[0] == "mvn" and "-B" in argv and "-q" in argv
    assert "-Dmodule.version=2.0.0" in argv
    assert not any(a.startswith("-Drevision") for a in argv)
    assert argv[argv.index("-pl") + 1] == "module-2025"
    assert argv[-2:] == ["clean", "package"]


def test_maven_env_keeps_the_callers_maven_opts_last():
    env = build.maven_env({"MAVEN_OPTS": "-Dmaven.repo.local=/tmp/r", "PATH": "/bin"})
    assert env["MAVEN_OPTS"].startswith(build.MAVEN_JVM_FLAGS)
    assert env["MAVEN_OPTS"].endswith("-Dmaven.repo.local=/tmp/r") and env["PATH"] == "/bin"
    assert build.maven_env({})["MAVEN_OPTS"] == build.MAVEN_JVM_FLAGS


@pytest.mark.parametrize("generation,prop", [("2025", "koupleless.arklet.http.port"),
                                             ("2023", "sofa.serverless.arklet.http.port")])
def test_java_argv(generation, prop, tmp_path):
    argv = jvm.java_argv("java", Path("/j/base.jar"), generation, 4321, tmp_path,
                         proxy="127.0.0.1:8080")
    assert argv[0] == "java" and argv[-2:] == ["-jar", "/j/base.jar"]
    assert f"-D{prop}=4321" in argv
    assert "-Dsofa.ark.telnet.server.enable=false" in argv  # 1236 would collide between bases
    assert f"-Djava.io.tmpdir={tmp_path / 'tmp'}" in argv
    assert "-Dhttp.proxyHost=127.0.0.1" in argv and "-Dhttp.proxyPort=8080" in argv
    assert any(a.startswith("-Xmx") for a in argv)
    no_proxy = jvm.java_argv("java", Path("/j/base.jar"), generation, 1, tmp_path)
    assert not any("proxy" in a for a in no_proxy)


@pytest.mark.parametrize("bad", ["8080", "host:", ":80", "host:port"])
def test_parse_proxy_rejects_garbage(bad):
    with pytest.raises(ValueError):
        jvm.parse_proxy(bad)


def test_parse_proxy():
    assert jvm.parse_proxy("127.0.0.5:3128") == ("127.0.0.5", 3128)
    assert jvm.parse_proxy(None) is None and jvm.parse_proxy("") is None


def _empty_path(tmp_path: Path, monkeypatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("JAVA_HOME", raising=False)


def test_missing_java_says_what_to_install(tmp_path, monkeypatch):
    _empty_path(tmp_path, monkeypatch)
    with pytest.raises(RealBaseUnavailable) as err:
        build.find_java()
    assert "\n" not in str(err.value) and "java" in str(err.value) and "install" in str(err.value)
    jar = tmp_path / "base.jar"
    jar.write_bytes(b"PK")
    with pytest.raises(RealBaseUnavailable, match="no `java` on PATH"):
        jvm.launch(jar, "2025", tmp_path / "w")


def test_missing_maven_fails_make_jars_with_one_line(tmp_path):
    """`module-controller-dev jars` with nothing cached and no mvn: exit 1, one line, no trace."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("JAVA_HOME", build.ENV_OVERRIDE)}
    env.update(PATH=str(empty), MODULE_CONTROLLER_CACHE=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-m", "module_controller_dev.cli", "jars"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "no `mvn` on PATH" in lines[0] and "apt-get install maven" in lines[0]
    assert "Traceback" not in proc.stderr


def test_a_jvm_that_dies_at_once_is_reported_with_its_log(tmp_path):
    """Not a jar: java exits at once; the error carries java's own words."""
    if shutil.which("java") is None:
        pytest.skip("no java on this machine")
    bogus = tmp_path / "bogus.jar"
    bogus.write_text("not a jar")
    base = jvm.launch(bogus, "2025", tmp_path / "w")
    with pytest.raises(jvm.BaseStartFailed) as err:
        base.wait_healthy(timeout=60)
    text = str(err.value)
    assert "exited with code" in text and "last log lines" in text
    assert "jarfile" in text.lower() or "zip" in text.lower(), text
    assert not base.alive()
