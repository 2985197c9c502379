"""What every command shares: one-line errors and a non-zero exit."""

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
)


class UsageError(ValueError):
    """Flags that do not make sense together."""


def user_errors():
    """The exception types to report as one line.

    Only modules already imported are consulted: an error raised by a module
    was necessarily raised after it was imported, and importing the others
    here would start TensorFlow just to print a message.
    """
    errors = [UsageError, FileNotFoundError, IsADirectoryError,
              NotADirectoryError, PermissionError]
    for module_name, class_name in _ERROR_CLASSES:
        module = sys.modules.get(module_name)
        if module is not None and hasattr(module, class_name):
            errors.append(getattr(module, class_name))
    return tuple(errors)


def run(main, program):
    """`absl.app.run(main)`, turning user errors into one line and exit 1."""

    def guarded(argv):
        try:
            return main(argv)
        except KeyboardInterrupt:
            print(f"{program}: interrupted", file=sys.stderr)
            sys.exit(130)
        except Exception as error:
            if not isinstance(error, user_errors()):
                raise
            message = " ".join(str(error).split()) or type(error).__name__
            print(f"{program}: error: {message}", file=sys.stderr)
            sys.exit(1)

    app.run(guarded)
