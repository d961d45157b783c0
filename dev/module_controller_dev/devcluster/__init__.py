"""A real local control plane (etcd, kube-apiserver, kube-controller-manager) plus simulated bases.

Used by the tests and by ``make run``; see :mod:`.cluster` for ``dev up | down | status`` and
:mod:`.binaries` for where the binaries come from.
"""

from .binaries import BinariesError
from .cluster import DevCluster, DevClusterError, State

__all__ = ["BinariesError", "DevCluster", "DevClusterError", "State"]
