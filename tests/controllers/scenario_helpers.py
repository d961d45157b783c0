"""Moved to ``tests/helpers`` (one implementation each); this name stays until its last
importers change their import lines."""

from module_controller.devcluster.kubectl import kubectl_apply as apply  # noqa: F401
from module_controller.devcluster.testing import release_status  # noqa: F401

from helpers.arklet_log import (  # noqa: F401
    bizzes_on, body_field, installs, log_marks, request_log, uninstalls)
from helpers.bodies import BASE, INSTALL_LATENCY, MODULE, SELECTOR, md_body, url_of  # noqa: F401
from helpers.cluster import (  # noqa: F401
    bases, endpoint_ips, holds_for, ip_of, live_modules, pod_of, refused_endpoint_sets, wait_md)
