"""Install the Debian packages the XMPP/UPnP tests need when they are missing (root only)."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading

# command -> Debian package
NEEDED = {
    "prosody": "prosody",
    "prosodyctl": "prosody",
    "miniupnpd": "miniupnpd",
    "nft": "nftables",
    "ip": "iproute2",
    "openssl": "openssl",
}
_lock = threading.Lock()


def ensure_packages() -> None:
    """apt-get install whatever of :data:`NEEDED` is missing; fail (never skip) otherwise."""
    with _lock:
        missing = sorted({pkg for cmd, pkg in NEEDED.items() if _which(cmd) is None})
        if not missing:
            return
        assert os.geteuid() == 0, f"missing Debian packages {missing} and not root to install them"
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", *missing], check=True, env=env, timeout=900
        )
        still = sorted({pkg for cmd, pkg in NEEDED.items() if _which(cmd) is None})
        assert not still, f"apt-get did not provide {still}"


def _which(cmd: str) -> str | None:
    return shutil.which(cmd, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
