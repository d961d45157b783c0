"""Flags of the controller under test (a module of its own: test files cannot import them from
conftest.py, whose module name other test folders' conftest files share)."""

# Fast retries, so failure tests see several attempts in seconds.
FAST = ["--retry-backoff-initial=0.2", "--retry-backoff-max=1.0", "--arklet-timeout=2",
        "--install-timeout=10"]
