"""Instructions a Python child runs, as valgrind's callgrind counts them (deterministic)."""

from __future__ import annotations

import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence

__all__ = ["instructions_of"]


def instructions_of(args: Sequence[str], env: Mapping[str, str], what: str) -> int:
    """Instructions ``python args...`` runs under callgrind; exits naming ``what`` if none."""
    valgrind = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    if shutil.which("setarch"):  # the same addresses every run: id()-keyed dicts probe alike
        valgrind = ["setarch", platform.machine(), "-R", *valgrind]
    result = subprocess.run(
        [*valgrind, sys.executable, *args],
        capture_output=True,
        text=True,
        env=dict(env),
        check=False,
    )
    found = re.search(r"Collected : (\d+)", result.stderr)
    if found is None:
        raise SystemExit(f"valgrind gave no count for {what}:\n{result.stderr[-2000:]}")
    return int(found.group(1))
