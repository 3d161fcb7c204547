"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """``../shared/data`` from the project root; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data absent : test sur données réelles ignoré")
    return SHARED_DATA
