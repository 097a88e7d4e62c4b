"""Wall time and peak resident memory of one command, for the benchmark harnesses.

The command runs under GNU time (`/usr/bin/time`, Debian's `time` package), which forks it from
its own small process. wait4(2) from the Python harness would also count, in the command's peak,
the harness's pages that the forked child held until it exec'd: 275 MiB reported for an
`assign` that itself peaked at 90.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

GNU_TIME = Path("/usr/bin/time")


def measured(cmd, cwd=None, env=None):
    """Runs `cmd`; returns (seconds, peak RSS in MiB, stdout), or raises with its stderr."""
    if not GNU_TIME.exists():
        sys.exit("the benchmarks read peak memory from GNU time: apt-get install time")
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report, \
            tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        code = subprocess.run([str(GNU_TIME), "-f", "%e %M", "-o", report.name,
                               *map(str, cmd)], cwd=cwd, env=env or dict(os.environ),
                              stdout=out, stderr=err).returncode
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode(errors="replace")
        if code != 0:
            raise RuntimeError(f"{' '.join(map(str, cmd))} exited {code}\n{stderr}{stdout}")
        # GNU time's last line is ours; a command killed by a signal adds a line above it.
        seconds, kib = report.read().split()[-2:]
    return float(seconds), int(kib) / 1024, stdout
