"""labkit.runtime.peer: a loopback connection belongs to the process that holds its client socket."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from labkit.runtime import peer

NOBODY = 65534


@pytest.fixture
def server() -> Iterator[socket.socket]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener


def test_the_holder_of_the_client_socket_is_admitted_and_no_other_process(server: socket.socket) -> None:
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with socket.create_connection(server.getsockname()) as client:
            conn, address = server.accept()
            with conn:
                assert client.getsockname() == address
                mine = peer.judge(address, server.getsockname(), {os.getpid()})
                other = peer.judge(address, server.getsockname(), {bystander.pid})
    finally:
        bystander.kill()
        bystander.wait()
    assert mine.admitted and mine.reason == f"held by pid {os.getpid()}"
    assert not other.admitted and "held by none of the environment's processes" in other.reason


def test_a_connection_the_kernel_does_not_list_is_refused(server: socket.socket) -> None:
    verdict = peer.judge(("127.0.0.1", 1), server.getsockname(), {os.getpid()})
    assert not verdict.admitted and "lists no such connection" in verdict.reason


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to look as another user")
def test_where_the_fds_are_unreadable_the_sockets_owner_decides(server: socket.socket) -> None:
    """What a labkit that is not root sees of a docker environment (processes of the sandbox user)."""
    with socket.create_connection(server.getsockname()) as client:
        conn, address = server.accept()
        read, write = os.pipe()
        child = os.fork()
        if child == 0:  # as another user: root's fds are unreadable
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            roots = peer.judge(address, server.getsockname(), {os.getppid()})
            with socket.create_connection(server.getsockname()) as own:
                nobodys = peer.judge(own.getsockname(), server.getsockname(), {os.getppid()})
            os.write(write, json.dumps([roots.admitted, roots.reason, nobodys.admitted]).encode())
            os._exit(0)
        os.close(write)
        os.waitpid(child, 0)
        with os.fdopen(read) as result:
            roots_admitted, reason, nobodys_admitted = json.loads(result.read())
        conn.close()
    assert roots_admitted and "owned by uid 0, the environment's user" in reason
    assert not nobodys_admitted, "a socket of another user is refused"
