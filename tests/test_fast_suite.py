"""The fast suite (`pytest -m "not slow"`) starts no server and no child process: conftest's
guard fails any test outside `slow` that tries. These tests check that the guard bites."""

import os
import socket
import subprocess
import sys

import pytest


def test_a_fast_test_cannot_listen_on_a_socket():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        with pytest.raises(AssertionError, match="mark it slow"):
            server.listen()


def test_a_fast_test_cannot_start_a_child_process():
    with pytest.raises(AssertionError, match="mark it slow"):
        subprocess.run([sys.executable, "-c", "pass"], check=True)
    with pytest.raises(AssertionError, match="mark it slow"):
        os.fork()


def test_a_librarys_import_time_probe_is_not_the_tests_child():
    import ctypes.util

    ctypes.util.find_library("pthread")  # runs ldconfig -p, as trio's import does


@pytest.mark.slow
def test_a_slow_test_may_start_both():
    assert subprocess.run([sys.executable, "-c", "pass"]).returncode == 0
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
