"""A throwaway prosody for tests: own config, data, log and certificates in a temp dir.

Accounts are created with ``prosodyctl register`` before the start; STARTTLS mode makes a
self-signed CA and a server certificate for the domain signed by it (clients verify with the
CA file). The server runs in the foreground (``-F``), optionally inside a network namespace,
and is stopped with SIGTERM. Never uses the system config or default ports.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.helpers.debian import ensure_packages

CONFIG = """\
run_as_root = true
daemonize = false
pidfile = "{d}/prosody.pid"
data_path = "{d}/data"
plugin_paths = {{}}
certificates = "{d}/certs"
interfaces = {{ "{ip}" }}
local_interfaces = {{ "{ip}" }}
c2s_interfaces = {{ "{ip}" }}
c2s_ports = {{ {port} }}
c2s_direct_tls_ports = {{}}
s2s_ports = {{}}
modules_enabled = {{ "roster", "saslauth", "tls", "disco", "posix", "ping", "presence" }}
modules_disabled = {{ "s2s", "offline" }}
authentication = "internal_hashed"
storage = "internal"
c2s_require_encryption = {require_enc}
allow_unencrypted_plain_auth = false
log = {{ {{ levels = {{ min = "info" }}, to = "file", filename = "{d}/prosody.log" }} }}
{ssl}
VirtualHost "{domain}"
"""


def free_port(ip: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((ip, 0))
        port: int = sock.getsockname()[1]
        return port


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


class Prosody:
    """``with Prosody(users={...}) as srv:`` -> ``srv.ip``, ``srv.port``, ``srv.cafile``."""

    def __init__(
        self,
        users: dict[str, str],
        *,
        domain: str = "test.local",
        tls: bool = False,
        ip: str = "127.0.0.1",
        port: int | None = None,
        netns: str | None = None,
    ) -> None:
        ensure_packages()
        self.users = dict(users)
        self.domain = domain
        self.tls = tls
        self.ip = ip
        self.netns = netns
        self.port = port or (free_port(ip) if netns is None else 5222)
        self.dir = Path(tempfile.mkdtemp(prefix="p2pstack-prosody-"))
        self.cafile: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self._configure()

    @property
    def server(self) -> str:
        return f"{self.ip}:{self.port}"

    def jid(self, user: str) -> str:
        return f"{user}@{self.domain}"

    def _configure(self) -> None:
        d = self.dir
        (d / "data").mkdir()
        certs = d / "certs"
        certs.mkdir()
        ssl = ""
        if self.tls:
            ca_key, ca_crt = certs / "ca.key", certs / "ca.crt"
            key, csr, crt = (certs / f"{self.domain}.{ext}" for ext in ("key", "csr", "crt"))
            _openssl(
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=p2pstack test CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
                "-keyout",
                str(ca_key),
                "-out",
                str(ca_crt),
            )
            _openssl(
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-subj",
                f"/CN={self.domain}",
                "-keyout",
                str(key),
                "-out",
                str(csr),
            )
            ext = certs / "san.ext"
            ext.write_text(f"subjectAltName=DNS:{self.domain}\nbasicConstraints=CA:FALSE\n")
            _openssl(
                "x509",
                "-req",
                "-in",
                str(csr),
                "-CA",
                str(ca_crt),
                "-CAkey",
                str(ca_key),
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                str(ext),
                "-out",
                str(crt),
            )
            ssl = f'ssl = {{ key = "{key}"; certificate = "{crt}"; }}'
            self.cafile = ca_crt
        self.cfg = d / "prosody.cfg.lua"
        self.cfg.write_text(
            CONFIG.format(
                d=d,
                ip=self.ip,
                port=self.port,
                domain=self.domain,
                ssl=ssl,
                require_enc="true" if self.tls else "false",
            )
        )
        for user, password in self.users.items():
            self.register(user, password)

    def register(self, user: str, password: str) -> None:
        subprocess.run(
            ["prosodyctl", "--config", str(self.cfg), "register", user, self.domain, password],
            check=True,
            capture_output=True,
            timeout=30,
        )
        self.users[user] = password

    def _cmd(self, *args: str) -> list[str]:
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        return [*prefix, *args]

    def start(self) -> Prosody:
        assert self.proc is None or self.proc.poll() is not None
        self._log = (self.dir / "console.log").open("ab")
        self.proc = subprocess.Popen(
            self._cmd("prosody", "-F", "--config", str(self.cfg)),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 15
        while not self._listening():
            if self.proc.poll() is not None:
                raise RuntimeError(f"prosody exited with {self.proc.returncode}: {self.logs()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"prosody did not listen within 15 s: {self.logs()}")
            time.sleep(0.02)
        return self

    def _listening(self) -> bool:
        if self.netns is None:
            try:
                socket.create_connection((self.ip, self.port), timeout=0.2).close()
            except OSError:
                return False
            return True
        out = subprocess.run(
            self._cmd("ss", "-ltnH"), capture_output=True, text=True, timeout=10, check=False
        ).stdout
        return f"{self.ip}:{self.port} " in out

    def stop(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if proc is not None:
            self._log.close()

    def logs(self) -> str:
        parts = []
        for name in ("console.log", "prosody.log"):
            path = self.dir / name
            if path.exists():
                parts.append(path.read_text(errors="replace")[-4000:])
        return "\n".join(parts)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Prosody:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
