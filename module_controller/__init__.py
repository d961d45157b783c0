"""module-controller: run hot-deployable modules on base pods the way Kubernetes runs pods."""

__version__ = "0.1.0"
