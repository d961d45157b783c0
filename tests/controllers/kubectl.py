"""Moved to ``module_controller.devcluster.kubectl``; this name stays until its last importers
change their import lines."""

from module_controller.devcluster.kubectl import kubectl, kubectl_patch as patch  # noqa: F401
