"""Flags of the controller under test, for every test folder (a module of its own: test files
cannot import them from conftest.py, whose module name other test folders' conftest files
share), and the deadlines of the cluster tests, derived from those flags.

A deadline here is not a speed claim: it is how long the controller may take, by its own
timeouts and retry bounds, before it has given up on something. A wait that runs into one means
the controller stopped trying, not that the machine was busy. Speed claims live in ``bench/``.
"""

from module_controller.arklet.settings import ArkletSettings
from module_controller.controllers.adoption import read_grace
from module_controller.kube.client import DEFAULT_TIMEOUT
from module_controller.settings import Settings

# Fast retries, so failure tests see several attempts in seconds.
RETRY_BACKOFF_INITIAL = 0.2   # --retry-backoff-initial: first requeue after a failed reconcile
RETRY_BACKOFF_MAX = 1.0       # --retry-backoff-max: the longest requeue after a failed reconcile
ARKLET_TIMEOUT = 2.0          # --arklet-timeout: one Arklet call attempt (all but install)
INSTALL_TIMEOUT = 10.0        # --install-timeout: one installBiz attempt
# --base-not-ready-grace: a NotReady base keeps its instances this long (peer mode). Short, so
# tests that make a base NotReady on purpose see it counted out quickly; the test of a blip
# runs its own controller with a grace no blip can outlast.
BASE_NOT_READY_GRACE = 1.0
FAST = [f"--retry-backoff-initial={RETRY_BACKOFF_INITIAL}",
        f"--retry-backoff-max={RETRY_BACKOFF_MAX}", f"--arklet-timeout={ARKLET_TIMEOUT:g}",
        f"--install-timeout={INSTALL_TIMEOUT:g}",
        f"--base-not-ready-grace={BASE_NOT_READY_GRACE:g}"]

# The Arklet settings of the controller under test, as `module-controller run` builds them from
# FAST (cli._run): the two timeouts are flags; the connect timeout, attempts and retry waits have
# no flags and keep ArkletSettings' defaults.
ARKLET = ArkletSettings(timeout=ARKLET_TIMEOUT, install_timeout=INSTALL_TIMEOUT)
# One Arklet call that gets no usable answer, by the client's own bound (docs/arklet.md, "How long
# one call can take"): the wait for a slot of its base (at most the query timeout), the attempts
# that never connect, each within the connect timeout, the retry waits between them, then the
# one attempt that connects, to its timeout. Nothing sent is sent again within a call.
# 2 s + 3 x 2 s + 2.8 s + 2 s = 12.8 s for a query; an install 20.8 s.
ARKLET_CALL_MAX = ARKLET.longest_call(ARKLET.timeout)
INSTALL_CALL_MAX = ARKLET.longest_call(ARKLET.install_timeout)
# One API request of the controller that gets no answer: its client's read timeout (30 s).
API_REQUEST_MAX = float(DEFAULT_TIMEOUT.sock_read)

# One step of one Module (placed -> Available, or deleted -> gone), and so of everything that
# waits on it: a queryAllBiz and an install or uninstall, each to its longest call, one API
# request that hangs to its timeout, and the queue's longest requeue after the failure
# (12.8 + 20.8 + 30 + 1 = 64.6 s). Steps of the other reconcilers are API requests only and fit
# inside it. On a quiet machine a step takes well under a second; a busy one stretches it, but
# never past what the controller allows itself.
MODULE_STEP = ARKLET_CALL_MAX + INSTALL_CALL_MAX + API_REQUEST_MAX + RETRY_BACKOFF_MAX

# How long a ModuleDeployment that took over upstream's objects waits for its Modules to be read
# from their bases before it judges its release anyway (the controller's own bound, computed by
# the controller's code from the same flags).
ADOPTION_READ_GRACE = read_grace(Settings(arklet=ARKLET))
# Taking over one ModuleDeployment upstream's controller left is a chain, each link bounded:
# its ModuleReplicaSet adopts the Modules (one step of that reconciler), each Module reads its
# base (one Module step; the Modules of one ModuleReplicaSet are read concurrently), the
# ModuleDeployment waits for those reads at most the read grace, then judges its release and
# writes its status (one step of that reconciler). Steps of the other reconcilers fit in a
# Module step (above): 3 x 60.6 + 40.8 = 222.6 s at most (a few seconds on a quiet machine).
TAKEOVER = MODULE_STEP + MODULE_STEP + ADOPTION_READ_GRACE + MODULE_STEP
