"""The module repository: an HTTP server for ark-biz jars, started with the dev cluster.

* :mod:`.jars` — pure: file-name rule (``<artifact>-<version>-ark-biz.jar``, ``dynamic-<x>`` is
  biz ``<x>``) and tiny generated jars whose manifest carries ``Ark-Biz-Name``/``Ark-Biz-Version``.
* :mod:`.catalogue` — pure lookup of a path: served directories, ``/not-a-jar/``, generated jars.
* :mod:`.server` — :class:`ModuleRepository`, the aiohttp server; also answers absolute-form
  (proxy) requests from the same catalogue, so it is the dev cluster's only "internet".
* ``python -m module_controller_dev.modulerepo --port P --dir D ...`` — the process ``dev up`` runs.
"""

from .catalogue import Catalogue, Found
from .jars import BizJarName, biz_name_of, build_biz_jar, parse_jar_name
from .server import ModuleRepository

__all__ = ["BizJarName", "Catalogue", "Found", "ModuleRepository", "biz_name_of",
           "build_biz_jar", "parse_jar_name"]
