"""What every command shares: one-line errors and a non-zero exit."""

import sys

from absl import app


def user_errors():
    """The exception types whose message a person can act on."""
    from adjustable_style import alpha, images, loss_network, model_files
    errors = [alpha.AlphaError, images.ImageError,
              loss_network.LossNetworkError, model_files.ModelFileError,
              UsageError, FileNotFoundError, IsADirectoryError,
              PermissionError]
    try:
        from adjustable_style import data, training
        errors += [data.DatasetError, training.TrainingError]
    except ImportError:
        pass
    return tuple(errors)


class UsageError(ValueError):
    """Flags that do not make sense together."""


def run(main, program):
    """`absl.app.run(main)`, turning user errors into one line and exit 1."""

    def guarded(argv):
        try:
            return main(argv)
        except user_errors() as error:
            message = " ".join(str(error).split()) or type(error).__name__
            print(f"{program}: error: {message}", file=sys.stderr)
            sys.exit(1)
        except KeyboardInterrupt:
            print(f"{program}: interrupted", file=sys.stderr)
            sys.exit(130)

    app.run(guarded)
