import logging

import pytest

pytest_plugins = ["tests.db_fixtures", "tests.gateway_fixtures"]


@pytest.fixture(autouse=True)
def _restore_logging():
    """`llm-gateway`'s main() points the root logger at the stderr of the moment; under pytest
    that is one test's capture, closed after it ("Logging error … closed file" in later tests).
    Put the root logger back as it was after every test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
