from __future__ import annotations

import pytest

from tests.enrolment.spring import NOW


@pytest.fixture
def spring(clock):
    """The test's clock at tests/enrolment/spring.py's NOW (use: `pytestmark = pytest.mark.usefixtures("spring")`)."""
    clock.set(NOW)
    return clock
