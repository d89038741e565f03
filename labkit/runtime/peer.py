"""Whether a connection to an environment's Runtime API comes from that environment's own processes.

The client's socket is looked up in the kernel by its address (one sock_diag netlink request,
~15 us, where reading /proc/net/tcp takes ~4 ms), which gives its owner and inode; the
connection is the environment's when one of its processes holds that inode among its fds.

Where labkit may not read a process's fds (a docker environment's processes belong to the sandbox
user; labkit is not root), the check falls back to the socket's owner: the connection is admitted
when it belongs to the user the environment's processes run as. That still refuses every process
of other users (labkit's own, the notebook's, process-backend handlers), but not a process of
another container running as the same sandbox user. Where the kernel cannot be asked (no sock_diag),
connections are admitted unchecked, and the verdict says so.
"""
from __future__ import annotations

import errno
import os
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass

_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST = 1
_NLMSG_ERROR = 2
_NO_COOKIE = 0xFFFFFFFF
_ALL_STATES = 0xFFFFFFFF
# nlmsghdr, then inet_diag_req_v2 (family, protocol, ext, pad, states, inet_diag_sockid)
_REQUEST = struct.Struct("=IHHII BBBBI HH16s16sIII")
# nlmsghdr, then the inet_diag_msg fields up to its uid and inode
_REPLY = struct.Struct("=IHHII BBBB 48x IIIII")
_HEADER = struct.Struct("=IH")  # nlmsghdr's length and type
_ERROR = struct.Struct("=16xi")  # nlmsgerr's error: -errno


@dataclass(frozen=True)
class ClientSocket:
    """The kernel's record of the connecting end: who owns it and its inode."""

    uid: int
    inode: int


@dataclass(frozen=True)
class Verdict:
    """Whether to serve a connection, and why (for the log line)."""

    admitted: bool
    reason: str
    checked: bool = True


def client_socket(client: tuple[str, int], server: tuple[str, int]) -> ClientSocket | None:
    """The TCP socket at `client` connected to `server` (IPv4); None when gone or in another network namespace.

    Raises OSError when the kernel cannot be asked.
    """
    request = _REQUEST.pack(
        _REQUEST.size, _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST, 1, 0,
        socket.AF_INET, socket.IPPROTO_TCP, 0, 0, _ALL_STATES,
        socket.htons(client[1]), socket.htons(server[1]),
        socket.inet_aton(client[0]), socket.inet_aton(server[0]),
        0, _NO_COOKIE, _NO_COOKIE,
    )
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG) as diag:
        diag.sendto(request, (0, 0))
        reply = diag.recv(8192)
    if len(reply) >= _ERROR.size and _HEADER.unpack_from(reply)[1] == _NLMSG_ERROR:
        code = -_ERROR.unpack_from(reply)[0]
        if code == errno.ENOENT:
            return None
        raise OSError(code, f"sock_diag: {os.strerror(code)}")
    if len(reply) < _REPLY.size:
        raise OSError(errno.EPROTO, "sock_diag: short reply")
    fields = _REPLY.unpack_from(reply)
    return ClientSocket(uid=fields[12], inode=fields[13])


def judge(client: tuple[str, int], server: tuple[str, int], pids: Iterable[int]) -> Verdict:
    """Admit the connection from `client` when one of `pids` holds its socket (or, unreadable, runs as its owner)."""
    try:
        found = client_socket(client, server)
    except (OSError, AttributeError) as exc:  # AttributeError: no AF_NETLINK on this system
        return Verdict(True, f"not checked: the kernel cannot say who holds the connection ({exc})", checked=False)
    if found is None:
        return Verdict(False, "the kernel lists no such connection (closed already, or from another network namespace)")
    link = f"socket:[{found.inode}]"
    unreadable: list[int] = []
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except PermissionError:
            unreadable.append(pid)
            continue
        except OSError:  # ended meanwhile
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == link:
                    return Verdict(True, f"held by pid {pid}")
            except OSError:
                continue
    if unreadable and found.uid in {_uid(pid) for pid in unreadable}:
        return Verdict(True, f"owned by uid {found.uid}, the environment's user (its processes' fds are not readable)")
    return Verdict(False, f"its socket (uid {found.uid}) is held by none of the environment's processes")


def _uid(pid: int) -> int | None:
    """The real uid of a process, from its world-readable status file."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"Uid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None
