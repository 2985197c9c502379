"""What every command shares: one-line errors, exit codes, quiet TensorFlow.

The commands (`adjustable_style.commands`) run their `main` through `run`,
which turns a `UserError` (or an `OSError`: a path that cannot be read or
written) into one line on stderr and exit status 1. Anything else is a bug
and keeps its traceback.
"""

import contextlib
import json
import os
import signal
import sys
import tempfile
import threading

from absl import app, flags

from adjustable_style.errors import UsageError, UserError

__all__ = [
    "UsageError",
    "UserError",
    "Terminated",
    "user_errors",
    "describe",
    "check_no_arguments",
    "quiet_native_stderr",
    "quiet_tensorflow_import",
    "keras_backend",
    "run",
]


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that the same clean-up runs.

    A subclass of KeyboardInterrupt: every `except BaseException` and
    `finally` that removes half-written files on Ctrl-C does so here too.
    """


def _raise_terminated(signum, frame):
    raise Terminated()


def _stop_again_if_swallowed(previous_hook):
    """An unraisable hook that re-delivers a swallowed Ctrl-C or SIGTERM.

    Python ignores exceptions raised inside `__del__` methods and weakref
    callbacks (which garbage collection runs at any moment, often under
    TensorFlow); a stop signal that lands there would be lost and the
    command would carry on. Sending the signal again raises it in ordinary
    code, where the clean-up runs.
    """

    def hook(unraisable):
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            stop = signal.SIGTERM if isinstance(unraisable.exc_value, Terminated) else signal.SIGINT
            # From another thread: sent from here, the handler would raise
            # inside this hook, where it would be ignored again.
            resend = threading.Timer(0.01, os.kill, (os.getpid(), stop))
            resend.daemon = True
            resend.start()
            return
        previous_hook(unraisable)

    return hook


def user_errors():
    """The exception types a command reports as one line."""
    return (UserError, OSError)


def describe(error):
    """The one line for a user error.

    An OSError reads "PATH: reason", the way shell tools report them, rather
    than Python's "[Errno 28] No space left on device: 'PATH'".
    """
    if isinstance(error, OSError) and error.strerror and type(error).__str__ is OSError.__str__:
        where = error.filename if error.filename is not None else None
        message = f"{where}: {error.strerror}" if where else error.strerror
    else:
        message = str(error)
    return " ".join(message.split()) or type(error).__name__


def check_no_arguments(argv):
    """Refuses words on the command line that are not flags."""
    if len(argv) > 1:
        raise UsageError(f"unexpected arguments: {' '.join(argv[1:])}")


@contextlib.contextmanager
def quiet_native_stderr():
    """Captures what native code writes to stderr; replays it on error.

    TensorFlow's C++ logging prints start-up and conversion notes straight
    to file descriptor 2, where `TF_CPP_MIN_LOG_LEVEL` does not reach all
    of them (those logged before absl's log is initialized). The commands
    promise one-line errors, so such a step runs with fd 2 captured, and the
    capture is shown only if the step raises.
    """
    stderr_fd = 2  # Native code writes here whatever sys.stderr is.
    try:
        sys.stderr.flush()
        saved = os.dup(stderr_fd)
    except (AttributeError, OSError, ValueError):  # No stderr at all.
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), stderr_fd)
        try:
            yield
        except BaseException:
            os.dup2(saved, stderr_fd)
            capture.seek(0)
            sys.stderr.write(capture.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, stderr_fd)
            os.close(saved)


def quiet_tensorflow_import():
    """Imports TensorFlow with its start-up chatter on stderr hidden."""
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with quiet_native_stderr():
        import tensorflow  # noqa: F401


def keras_backend():
    """The Keras backend a command will get, without importing Keras.

    Keras' own rule: `KERAS_BACKEND`, else the `backend` of
    `$KERAS_HOME/keras.json` (default `~/.keras`), else TensorFlow. Importing
    Keras to ask would start TensorFlow where that is the backend, before
    the command has checked its flags.
    """
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(home, "keras.json"), encoding="utf-8") as f:
            return json.load(f).get("backend") or "tensorflow"
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def _help_shows(module_name):
    """Makes `--help` show the flags and the docstring of `module_name`.

    absl's `--help` lists the flags of the main script only. A command's
    flags are defined in its module of `adjustable_style.commands`, and run
    from a thin script or a console-script wrapper (which has no docstring).
    """
    for flag in flags.FLAGS.get_flags_for_module(module_name):
        flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
    main_module = sys.modules.get("__main__")
    if main_module is not None and not main_module.__doc__:
        main_module.__doc__ = sys.modules[module_name].__doc__


def run(main, program, flags_of=None):
    """`absl.app.run(main)`, turning user errors into one line and exit 1.

    Ctrl-C exits 130 and SIGTERM 143 (128 + the signal), each with one line,
    after the same clean-up. `flags_of` names the module whose flags (and
    docstring) `--help` shows.
    """
    if flags_of is not None:
        _help_shows(flags_of)

    def guarded(argv):
        previous_hook = sys.unraisablehook
        try:
            signal.signal(signal.SIGTERM, _raise_terminated)
            # A command started in the background of a non-interactive shell
            # inherits SIGINT ignored, and Python then installs no
            # KeyboardInterrupt handler: Ctrl-C (or kill -INT) would be lost.
            signal.signal(signal.SIGINT, signal.default_int_handler)
            sys.unraisablehook = _stop_again_if_swallowed(previous_hook)
        except ValueError:  # Not the main thread: leave the default.
            pass
        try:
            return main(argv)
        except Terminated:
            print(f"{program}: terminated", file=sys.stderr)
            sys.exit(128 + signal.SIGTERM)
        except KeyboardInterrupt:
            print(f"{program}: interrupted", file=sys.stderr)
            sys.exit(130)
        except user_errors() as error:
            print(f"{program}: error: {describe(error)}", file=sys.stderr)
            sys.exit(1)
        finally:
            sys.unraisablehook = previous_hook

    def parse_flags(argv):
        # absl's own parser prints "FATAL Flags parsing error" and a second
        # line of advice; the commands promise one line.
        try:
            return flags.FLAGS(argv)
        except flags.Error as error:
            print(f"{program}: error: {describe(error)}", file=sys.stderr)
            sys.exit(1)

    app.run(guarded, flags_parser=parse_flags)
