"""The processes a benchmark starts: a free loopback port for a server, and a clean stop."""

from __future__ import annotations

import socket
import subprocess


def free_port() -> int:
    """A loopback TCP port no one listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(proc: subprocess.Popen, timeout: float = 20) -> None:
    """Terminate ``proc``, and kill it if it has not exited within ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
