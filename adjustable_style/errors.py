"""The one base of every error a person can act on, and the checks that raise it.

Each module's error class (`AlphaError`, `ImageError`, `ModelFileError`, ...)
derives from `UserError`, so a command reports any of them as one line and
exits 1 (see `cli.run`), while a bug still shows its traceback. Most also
derive from the built-in class they replace (`ValueError`, `RuntimeError`),
so code that caught those still does.
"""

import numbers


class UserError(Exception):
    """A mistake in the input, told in one line; no traceback is shown."""

    def __str__(self):
        return one_line(super().__str__())


class UsageError(UserError, ValueError):
    """Flags that do not make sense together."""


def one_line(text):
    """`text` with every run of white space (newlines too) as one space."""
    return " ".join(str(text).split())


def first_line(error, limit=None):
    """The first line of what `error` says (its class name if it says nothing).

    For errors from libraries (TensorFlow, Keras), whose messages often go on
    for pages; `limit` cuts the line at that many characters.
    """
    lines = str(error).strip().splitlines()
    text = lines[0].strip() if lines else ""
    if limit is not None:
        text = text[:limit]
    return text or type(error).__name__


def check_int(name, value, minimum=None, maximum=None, error=UsageError):
    """`value` as an int, or `error` naming `name` and the accepted range."""
    # bool is an int subclass; accepting True as "1 layer" would hide bugs.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise error(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        bound = f"in {minimum}..{maximum}" if maximum is not None else f">= {minimum}"
        raise error(f"{name} must be {bound}, got {value}")
    return value
