"""Flags of the controller under test (a module of its own: test files cannot import them from
conftest.py, whose module name other test folders' conftest files share), and the deadlines
of the cluster tests, derived from those flags.

A deadline here is not a speed claim: it is how long the controller may take, by its own
timeouts and retry bounds, before it has given up on something. A wait that runs into one means
the controller stopped trying, not that the machine was busy. Speed claims live in ``bench/``.
"""

from module_controller.arklet.settings import ArkletSettings
from module_controller.kube.client import DEFAULT_TIMEOUT

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

# The Arklet client's retry policy has no flags: ArkletSettings' defaults apply.
_ARKLET = ArkletSettings()
# One Arklet call that never gets an answer: every attempt runs into its timeout, with the
# longest retry wait between attempts (4 x 2 s + 3 x 5 s = 23 s; an install 4 x 10 s + 15 s).
# An install, uninstall or switch that *times out* is not sent again (it may still run on the
# base), but its connection failures are retried, so the same product bounds it from above.
ARKLET_CALL_MAX = _ARKLET.attempts * ARKLET_TIMEOUT + (_ARKLET.attempts - 1) * _ARKLET.backoff_max
INSTALL_CALL_MAX = _ARKLET.attempts * INSTALL_TIMEOUT + (_ARKLET.attempts - 1) * _ARKLET.backoff_max
# One API request of the controller that gets no answer: its client's read timeout (30 s).
API_REQUEST_MAX = float(DEFAULT_TIMEOUT.sock_read)

# One step of one Module (placed -> Available, or deleted -> gone), and so of everything that
# waits on it: a queryAllBiz and an install or uninstall, each allowed all its attempts, one API
# request that hangs to its timeout, and the queue's longest requeue after the failure
# (23 + 55 + 30 + 1 = 109 s). Steps of the other reconcilers are API requests only and fit
# inside it. On a quiet machine a step takes well under a second; a busy one stretches it, but
# never past what the controller allows itself.
MODULE_STEP = ARKLET_CALL_MAX + INSTALL_CALL_MAX + API_REQUEST_MAX + RETRY_BACKOFF_MAX
