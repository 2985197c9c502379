"""What every request handler of the demo shares: its errors, answers and parameters.

`app.DemoApp` and `camera.stylize_frame` both answer requests; both build
on this module, so neither imports the other back.
"""

import dataclasses
import json

import numpy as np

from adjustable_style import alpha_vectors, limits
from adjustable_style.errors import UserError

MAX_SEED = limits.MAX_SEED  # The seeds stylize.py and train.py take.
# A page's request numbers: up to 2**53, the largest whole number a
# browser's JavaScript counts exactly.
MAX_SEQ = 2**53


class DemoError(UserError):
    """A request the server refuses, with an HTTP status and a one-line message."""

    def __init__(self, status, message, **extra):
        super().__init__(message)
        self.status = status
        self.message = " ".join(str(message).split())
        self.extra = extra


@dataclasses.dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict = dataclasses.field(default_factory=dict)

    @property
    def json(self):
        return json.loads(self.body.decode("utf-8"))


def json_response(obj, status=200):
    return Response(status, json.dumps(obj).encode("utf-8"))


def error_response(status, message, **extra):
    return json_response({"error": " ".join(str(message).split()), **extra}, status)


def is_on(query, name):
    """Whether a checkbox-like query parameter is set."""
    return query.get(name, "0") in ("1", "true", "on")


def parse_whole_number(query, name, maximum, default=None):
    """Query parameter `name` as an int in 0..maximum (ASCII digits), or a 400."""
    text = query.get(name, "").strip()
    if not text:
        return default
    message = f"{name} {text!r} must be a whole number in 0..{maximum}"
    if len(text) > len(str(maximum)):  # No int() of a million digits.
        raise DemoError(400, message)
    try:
        value = limits.parse_int(text, name)
    except UserError:
        raise DemoError(400, message) from None
    if not 0 <= value <= maximum:
        raise DemoError(400, message)
    return value


def parse_seed(query):
    return parse_whole_number(query, "seed", MAX_SEED)


def parse_seq(query):
    """The page's request number: a newer request supersedes older ones."""
    return parse_whole_number(query, "seq", MAX_SEQ, default=0)


def parse_alpha(model, query):
    text = query.get("alpha")
    if not model.adjustable:
        if text:
            raise DemoError(
                400, "this model has no alpha (it is a base model with fixed style weights)"
            )
        return None
    if text is None:
        return np.ones(model.num_layers, np.float32)
    try:
        return alpha_vectors.parse_alpha(text, model.style_layers, default=1.0)
    except alpha_vectors.AlphaError as error:
        raise DemoError(400, str(error)) from None
