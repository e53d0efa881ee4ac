"""Test-session set-up shared by every test module.

Hermetic trace cache (issue 10): the session generates every trace into its
own empty cache instead of reading ``~/.cache/wirecap-repro``, so a run here
sees exactly what a clean clone on a new machine sees; a trace cached by an
older generator, or on another CPU, cannot hide a difference. It is set at
import time, before any test module loads a trace, and inherited by every
subprocess and worker the tests start. The folder is private (mkdtemp:
0700, a fresh unpredictable name) and removed when the session ends.

``WIRECAP_TEST_CACHE=DIR`` reuses DIR instead (faster repeated local runs;
CI never sets it).
"""
import os
import shutil
import tempfile

import pytest

from traces import cache

_OWN_CACHE = None
if os.environ.get("WIRECAP_TEST_CACHE"):
    os.environ[cache.CACHE_ENV] = os.environ["WIRECAP_TEST_CACHE"]
else:
    _OWN_CACHE = tempfile.mkdtemp(prefix="wirecap-test-cache-")
    os.environ[cache.CACHE_ENV] = _OWN_CACHE


def pytest_unconfigure(config):
    if _OWN_CACHE:
        shutil.rmtree(_OWN_CACHE, ignore_errors=True)


@pytest.fixture
def res(tmp_path, monkeypatch):
    """A private results folder for the test (WIRECAP_RESULTS), progress bars off."""
    monkeypatch.setenv("WIRECAP_RESULTS", str(tmp_path))
    monkeypatch.setenv("WIRECAP_PROGRESS", "0")
    return tmp_path
