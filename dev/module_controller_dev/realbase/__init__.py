"""Real koupleless bases and modules: Maven projects (``maven/``), a cache of their jars
(:mod:`.build`), and a launcher for base JVMs (:mod:`.jvm`)."""

from .build import Jars, RealBaseUnavailable, ensure, find, jar_dir, require
from .jvm import BaseJvm, BaseStartFailed, launch, start

__all__ = ["BaseJvm", "BaseStartFailed", "Jars", "RealBaseUnavailable", "ensure", "find",
           "jar_dir", "launch", "require", "start"]
