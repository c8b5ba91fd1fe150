"""System programs the end-to-end tests drive (newsboat, chromium): required on CI."""

from __future__ import annotations

import os
import shutil

import pytest


def need_binary(name: str, *, package: str | None = None) -> str:
    """The program's path. Missing on CI (CI set) is a failure, never a skip: the
    tests that prove feed-reader and browser behaviour must not vanish quietly. Only a
    developer machine without the program skips."""
    path = shutil.which(name)
    if path:
        return path
    why = (
        f"{name} is not installed (apt-get install {package or name}; see .ci/install-system-deps)"
    )
    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        pytest.fail(why)
    pytest.skip(why)
