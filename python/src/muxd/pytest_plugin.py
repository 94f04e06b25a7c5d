"""The pytest plugin of the muxd package (entry point pytest11): the `muxd`
fixture, a factory that starts muxd.Muxd(*args, **kwargs) and stops every
one it started when the test ends.

    def test_retry(muxd):
        server = muxd("-s", "echo")
        server.fault("refuse,first=2")
        ...
"""

import pytest

from . import Muxd


@pytest.fixture
def muxd():
    started = []

    def start(*args, **kwargs):
        server = Muxd(*args, **kwargs)
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop()
