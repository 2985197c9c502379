"""Alpha over a video's time: keyframes, their text form and their interpolation.

`--alpha_keyframes="0:1,0,0;4:0,0,1;f240:1,1,1"` sets alpha at times in
seconds (`4:`) or at frame numbers (`f240:`), each value in any form of
`--alpha` (`alpha_vectors.parse_alpha`). Between keyframes each layer's alpha
follows a monotone cubic (Fritsch and Carlson's piecewise cubic Hermite):
smooth (continuous slope), and never outside the range of the two
keyframes it joins, so it stays in [0, 1] and does not overshoot a target.
Slopes are zero at the first and last keyframes: the value eases into the
hold that comes before the first and after the last.

Parsing has two stages so that a typo fails before anything is loaded:
`parse_keyframes` needs only the text; `KeyframeSchedule` then checks each
value against the model's layers, and mixed seconds and frame numbers
against the frame rate, still before any frame is decoded.
"""

import dataclasses
import math

import numpy as np

from adjustable_style import alpha_vectors, limits
from adjustable_style.alpha_vectors import AlphaError


@dataclasses.dataclass(frozen=True)
class Keyframe:
    """One `TIME:ALPHA` entry: `at` in seconds, or in frames if `in_frames`."""

    at: float
    in_frames: bool
    alpha_text: str
    text: str

    def frame(self, fps):
        """The keyframe's position in frames (fractional for seconds)."""
        return self.at if self.in_frames else self.at * fps


def _parse_time(time_text, entry):
    if time_text.lower().startswith("f"):
        digits = time_text[1:].strip()
        if not (digits.isascii() and digits.isdigit()):
            raise AlphaError(
                f"keyframe {entry!r}: frame {time_text!r} is not f followed by a whole "
                "number (e.g. f120)"
            )
        if len(digits) > len(str(limits.MAX_VIDEO_FRAMES)) or int(digits) > limits.MAX_VIDEO_FRAMES:
            raise AlphaError(
                f"keyframe {entry!r}: frame {time_text!r} is past the longest video "
                f"({limits.MAX_VIDEO_FRAMES} frames)"
            )
        return int(digits), True
    try:
        if not time_text.isascii():
            raise ValueError(time_text)
        seconds = float(time_text)
    except ValueError:
        raise AlphaError(
            f"keyframe {entry!r}: time {time_text!r} is not a number of seconds or fN for frame N"
        ) from None
    if not math.isfinite(seconds):
        raise AlphaError(
            f"keyframe {entry!r}: time {time_text!r} must be a finite number of seconds"
        )
    if seconds < 0:
        raise AlphaError(f"keyframe {entry!r}: time {time_text!r} must be >= 0 seconds")
    if seconds > limits.MAX_VIDEO_SECONDS:
        raise AlphaError(
            f"keyframe {entry!r}: time {time_text!r} is past the longest video "
            f"({limits.MAX_VIDEO_SECONDS} seconds)"
        )
    return seconds, False


def _check_numbers(alpha_text, entry):
    """Checks the numbers of an alpha text; its layer count waits for the model."""
    for item in alpha_text.split(","):
        value = item.partition("=")[2] if "=" in item else item
        try:
            alpha_vectors._parse_number(value.strip(), item.strip())
        except AlphaError as error:
            raise AlphaError(f"keyframe {entry!r}: {error}") from None


def parse_keyframes(text):
    """The `Keyframe`s of `--alpha_keyframes` text, in order.

    Checks everything the text alone can tell: the `TIME:ALPHA;...` shape,
    times (seconds >= 0, or fN), numbers in [0, 1], and times increasing
    among keyframes of the same unit.
    """
    if not isinstance(text, str) or not text.strip():
        raise AlphaError(
            "--alpha_keyframes is empty; give TIME:ALPHA entries separated by ';', "
            "e.g. '0:1,0,0;4:0,0,1' (TIME in seconds, or fN for frame N)"
        )
    count = text.strip().rstrip(";").count(";") + 1  # A trailing ';' is harmless.
    if count > limits.MAX_KEYFRAMES:
        raise AlphaError(
            f"--alpha_keyframes has {count} entries, over the limit of {limits.MAX_KEYFRAMES}"
        )
    keyframes = []
    for position, entry in enumerate(text.split(";"), start=1):
        entry = entry.strip()
        if not entry:
            if position == len(text.split(";")):
                continue  # A trailing ';' is harmless.
            raise AlphaError(f"--alpha_keyframes has an empty entry at position {position}")
        time_text, colon, alpha_text = entry.partition(":")
        if not colon:
            raise AlphaError(
                f"keyframe {entry!r} has no ':'; write TIME:ALPHA, e.g. '4:0,0,1' or 'f96:0.5'"
            )
        if not alpha_text.strip():
            raise AlphaError(f"keyframe {entry!r} has no alpha after ':'")
        at, in_frames = _parse_time(time_text.strip(), entry)
        _check_numbers(alpha_text, entry)
        keyframes.append(Keyframe(at, in_frames, alpha_text.strip(), entry))
    for unit in (False, True):
        same = [k for k in keyframes if k.in_frames == unit]
        for before, after in zip(same, same[1:]):
            if after.at <= before.at:
                raise AlphaError(
                    f"keyframe {after.text!r} is not after {before.text!r}; times must increase"
                )
    return keyframes


def pchip_slopes(x, y):
    """Fritsch-Carlson slopes at the knots x of values y (K,) or (K, L).

    Zero at both ends and wherever the data turn (a knot between a rise and
    a fall), which is what keeps each piece inside its two knots' values.
    """
    y = np.asarray(y, np.float64)
    h = np.diff(x)[:, None] if y.ndim == 2 else np.diff(x)
    delta = np.diff(y, axis=0) / h
    slopes = np.zeros_like(y)
    if len(x) > 2:
        left, right = delta[:-1], delta[1:]
        h0, h1 = h[:-1], h[1:]
        w1, w2 = 2 * h1 + h0, h1 + 2 * h0
        same_sign = left * right > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            harmonic = (w1 + w2) / (w1 / left + w2 / right)
        slopes[1:-1] = np.where(same_sign, harmonic, 0.0)
    return slopes


def hermite(x, y, slopes, t):
    """Values at positions t (N,) of the cubic Hermite through (x, y, slopes)."""
    y = np.asarray(y, np.float64)
    t = np.clip(np.asarray(t, np.float64), x[0], x[-1])
    i = np.clip(np.searchsorted(x, t, side="right") - 1, 0, len(x) - 2)
    h = x[i + 1] - x[i]
    s = (t - x[i]) / h
    if y.ndim == 2:
        s, h = s[:, None], h[:, None]
    s2, s3 = s * s, s * s * s
    return (
        (2 * s3 - 3 * s2 + 1) * y[i]
        + (s3 - 2 * s2 + s) * h * slopes[i]
        + (-2 * s3 + 3 * s2) * y[i + 1]
        + (s3 - s2) * h * slopes[i + 1]
    )


class KeyframeSchedule:
    """Alpha of every frame, from keyframes checked against a model and a frame rate."""

    def __init__(self, keyframes, layer_names, fps):
        self.keyframes = list(keyframes)
        values = []
        for keyframe in self.keyframes:
            try:
                values.append(alpha_vectors.parse_alpha(keyframe.alpha_text, layer_names))
            except AlphaError as error:
                raise AlphaError(f"keyframe {keyframe.text!r}: {error}") from None
        positions = [k.frame(fps) for k in self.keyframes]
        for (p0, k0), (p1, k1) in zip(
            zip(positions, self.keyframes), zip(positions[1:], self.keyframes[1:])
        ):
            if p1 <= p0:
                raise AlphaError(
                    f"keyframe {k1.text!r} (frame {p1:g}) is not after {k0.text!r} "
                    f"(frame {p0:g} at {fps:g} fps); times must increase"
                )
        self.positions = np.asarray(positions, np.float64)
        self.values = np.stack(values).astype(np.float64)
        if len(self.positions) > 1:
            self.slopes = pchip_slopes(self.positions, self.values)

    def __call__(self, frames):
        """(N, L) float32 alphas of frame indices `frames`."""
        frames = np.atleast_1d(np.asarray(frames, np.float64))
        if len(self.positions) == 1:
            return np.repeat(self.values.astype(np.float32), len(frames), axis=0)
        path = hermite(self.positions, self.values, self.slopes, frames)
        # The cubic stays within its keyframes' values; the clip only guards
        # the float32 cast against rounding a hair outside [0, 1].
        return np.clip(path, 0.0, 1.0).astype(np.float32)
