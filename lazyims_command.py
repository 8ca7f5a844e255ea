"""The ``lazyims`` command's entry point, which ends as Unix tools do.

Importing lazyims (dask, numpy, h5py, zarr...) takes a second or more, so this
module imports nothing heavy before it has taken charge of the process:

- Ctrl-C at any moment, the imports included, prints one line
  (``lazyims: interrupted``) and ends with status 130. The first Ctrl-C stops the
  work the usual way (a writer removes its unfinished file), then the process ends
  without waiting for the tasks still running in worker threads; a second Ctrl-C
  ends it at once.
- A closed pipe (``lazyims info scan.h5 | head -1``) ends the command quietly with
  status 0; what is still to print goes to the null device.

The command itself is :func:`lazyims.cli.main`. :func:`main` sets the process's
SIGINT handling: call it only as the process's entry point.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence

#: The exit status of an interrupted command (128 + SIGINT), as shells give.
INTERRUPTED = 130
MESSAGE = b"lazyims: interrupted\n"

_state = {"interrupted": False, "said": False}


def _say_interrupted() -> None:
    """Print the one line, once, without Python's buffers (safe in a signal handler)."""
    if not _state["said"]:
        _state["said"] = True
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            pass
        try:
            os.write(2, MESSAGE)
        except OSError:
            pass


def _on_interrupt(signum: int, frame: object) -> None:
    """The first Ctrl-C raises KeyboardInterrupt (so the work unwinds and cleans up); a
    second one, while that goes on, ends the process at once."""
    if _state["interrupted"]:
        _say_interrupted()
        os._exit(INTERRUPTED)
    _state["interrupted"] = True
    raise KeyboardInterrupt


def _on_interrupt_at_exit(signum: int, frame: object) -> None:
    """A Ctrl-C once the command is done (Python waiting for threads): end at once."""
    _say_interrupted()
    os._exit(INTERRUPTED)


def _stdout_to_null() -> None:
    """Send what is still to be printed to the null device, so the interpreter's own
    flush at exit does not fail again on the closed pipe."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError, AttributeError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``lazyims`` command (``argv``: its arguments, default ``sys.argv[1:]``);
    returns the exit status."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        # (a SIGINT the caller ignores, as in `nohup` or a background job, stays ignored)
        signal.signal(signal.SIGINT, _on_interrupt)
    try:
        try:
            from lazyims.cli import main as run

            status = run(argv)
        except SystemExit as exc:  # argparse's --help, --version and usage errors
            if exc.code is not None and not isinstance(exc.code, int):
                raise
            status = exc.code or 0
        if status == INTERRUPTED:
            _state["said"] = True  # lazyims.cli said it
        sys.stdout.flush()  # a closed pipe shows here, not at the interpreter's exit
    except KeyboardInterrupt:
        _state["interrupted"] = True
        _say_interrupted()
        status = INTERRUPTED
    except BrokenPipeError:
        _stdout_to_null()
        status = 0
    finally:
        if signal.getsignal(signal.SIGINT) is _on_interrupt:
            signal.signal(signal.SIGINT, _on_interrupt_at_exit)
    if _state["interrupted"]:
        _end_now()
    return status


def _end_now() -> None:
    """End an interrupted command once its work has unwound (unfinished files removed),
    without waiting for worker threads: their tasks are no longer wanted, and a thread
    pool interrupted while starting a thread can leave one that Python's exit would wait
    for forever."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(INTERRUPTED)


if __name__ == "__main__":  # pragma: no cover - `python lazyims_command.py ARGS`
    sys.exit(main())
