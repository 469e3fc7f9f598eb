"""``python -m modelcheck``: the command line.

A stop signal (SIGTERM, SIGHUP; Ctrl-C already does) that arrives while the
program is still loading ends it with a line and exit status 3, as one during
the run does; once the report is out, one changes nothing and the command ends
with the status its verdicts earned.
"""

import signal
import sys

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


for _number in STOP_SIGNALS[1:]:
    signal.signal(_number, _stop)
try:
    from modelcheck.faces.cli import main

    status = main()  # installs its own handlers for the run, and puts these back after it
except KeyboardInterrupt:
    print("modelcheck: interrupted before the run began or after it ended", file=sys.stderr)
    status = 3
for _number in STOP_SIGNALS:  # the report is out: nothing is left to stop, and the workers are going
    signal.signal(_number, signal.SIG_IGN)
sys.exit(status)
