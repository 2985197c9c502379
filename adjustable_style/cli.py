"""What every command shares: one-line errors and a non-zero exit."""

import signal
import sys

from absl import app

# Modules whose error classes carry a message a person can act on.
_ERROR_CLASSES = (
    ("adjustable_style.alpha", "AlphaError"),
    ("adjustable_style.images", "ImageError"),
    ("adjustable_style.loss_network", "LossNetworkError"),
    ("adjustable_style.model_files", "ModelFileError"),
    ("adjustable_style.data", "DatasetError"),
    ("adjustable_style.training", "TrainingError"),
    ("adjustable_style.export", "ExportError"),
    ("adjustable_style.run_lock", "LockError"),
)


class UsageError(ValueError):
    """Flags that do not make sense together."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that the same clean-up runs.

    A subclass of KeyboardInterrupt: every `except BaseException` and
    `finally` that removes half-written files on Ctrl-C does so here too.
    """


def _raise_terminated(signum, frame):
    raise Terminated()


def user_errors():
    """The exception types to report as one line.

    Only modules already imported are consulted: an error raised by a module
    was necessarily raised after it was imported, and importing the others
    here would start TensorFlow just to print a message.
    """
    errors = [UsageError, OSError]
    for module_name, class_name in _ERROR_CLASSES:
        module = sys.modules.get(module_name)
        if module is not None and hasattr(module, class_name):
            errors.append(getattr(module, class_name))
    return tuple(errors)


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


def run(main, program):
    """`absl.app.run(main)`, turning user errors into one line and exit 1.

    Ctrl-C exits 130 and SIGTERM 143 (128 + the signal), each with one line,
    after the same clean-up.
    """

    def guarded(argv):
        try:
            signal.signal(signal.SIGTERM, _raise_terminated)
            # A command started in the background of a non-interactive shell
            # inherits SIGINT ignored, and Python then installs no
            # KeyboardInterrupt handler: Ctrl-C (or kill -INT) would be lost.
            signal.signal(signal.SIGINT, signal.default_int_handler)
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
        except Exception as error:
            if not isinstance(error, user_errors()):
                raise
            print(f"{program}: error: {describe(error)}", file=sys.stderr)
            sys.exit(1)

    app.run(guarded)
