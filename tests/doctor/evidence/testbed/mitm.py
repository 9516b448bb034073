"""mitmproxy's ``mitmdump`` as reverse proxies writing HAR files for the test bed.

`find_mitmdump` looks for the binary in ``$TRACEHOUND_MITMDUMP`` then on
``PATH`` and says why there is none; `command` is one reverse proxy from a
port to an upstream that writes every exchange to a HAR file when it exits
(SIGTERM, which `Fleet.stop` sends).  mitmproxy 11 is the last to run on
Python 3.11: ``pip install 'mitmproxy<12'`` in a venv of its own (its pins
would fight the project's).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ENV = "TRACEHOUND_MITMDUMP"


def find_mitmdump() -> tuple[str | None, str | None]:
    """``(path, None)`` when mitmdump is found, else ``(None, why not)``."""
    given = os.environ.get(ENV)
    if given:
        if Path(given).is_file() and os.access(given, os.X_OK):
            return given, None
        return None, f"${ENV}={given} is not an executable file"
    found = shutil.which("mitmdump")
    if found:
        return found, None
    return None, (
        f"mitmdump is not installed (set ${ENV}, or: python3 -m venv .venv-mitm && "
        ".venv-mitm/bin/pip install 'mitmproxy<12')"
    )


def command(binary: str, port: int, upstream: int, har: Path, confdir: Path) -> list[str]:
    """mitmdump listening on 127.0.0.1:``port``, forwarding to 127.0.0.1:``upstream``."""
    return [
        binary, "--quiet",
        "--mode", f"reverse:http://127.0.0.1:{upstream}",
        "--listen-host", "127.0.0.1", "--listen-port", str(port),
        # its CA and settings go under the run, never into ~/.mitmproxy; one directory per
        # mitmdump, else two starting at once race to write the same new CA
        "--set", f"confdir={confdir}",
        "--set", f"hardump={har}",
    ]  # fmt: skip
