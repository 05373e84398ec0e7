from __future__ import annotations

import pytest

from tcrbench.testing import tiny_config


@pytest.fixture
def tiny():
    return tiny_config
