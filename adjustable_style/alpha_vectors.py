"""Per-layer style weights (alpha): text, checks, random draws and schedules.

The adjustable stylizer is conditioned on ``alpha``: one weight in [0, 1] per
VGG style layer (for VGG-19 by default ``block2_conv2``, ``block3_conv4``,
``block4_conv4``; the names come with each model's configuration, so nothing
here hard-codes them).  This module turns user input into validated alpha
vectors and produces the alpha schedules shown in the paper:

* :func:`parse_alpha` / :func:`format_alpha` -- the command-line text form, in
  either positional (``"0.2,1,0.5"``, or ``"0.5"`` for every layer) or named
  (``"block2_conv2=0.2,block3_conv4=1,block4_conv4=0.5"``) form.  Formatting
  then parsing gives back the same float32 values bit for bit, so the string
  printed next to an image reproduces it.
* :func:`validate_alpha` -- the same checks for arrays coming from Python.
* :func:`sample_alpha` -- alpha ~ U(0, 1) per layer (section 5.3, diversity by
  sampling the style weights).
* :func:`alpha_walk`, :func:`sweep_alphas`, :func:`grid_alphas` -- alpha
  sequences for animations, the one-layer sweeps of Figure 3 and the two-layer
  grids of Figure 9.

The other randomness of inference, the content-noise mask, is in `noise`.

Everything is plain numpy (no TensorFlow, no scipy) so it can be imported by
command-line tools cheaply and used inside ``tf.data`` via ``numpy_function``.
Random functions take ``seed``: anything :func:`numpy.random.default_rng`
accepts (an int for reproducible output, ``None`` for fresh entropy, or a
``Generator``, which is then advanced).

Every error is an :class:`AlphaError` (a ``ValueError``) with a one-line message
that names the offending value and says what would be accepted.
"""

import math
import numbers

import numpy as np

from adjustable_style.errors import UserError, check_int

__all__ = [
    "AlphaError",
    "parse_alpha",
    "validate_alpha",
    "format_alpha",
    "sample_alpha",
    "alpha_walk",
    "sweep_alphas",
    "grid_alphas",
]


class AlphaError(UserError, ValueError):
    """Invalid alpha value, alpha text, or schedule parameter."""


# ---------------------------------------------------------------------------
# Small validation helpers.
# ---------------------------------------------------------------------------


def _check_int(name, value, minimum=None, maximum=None):
    return check_int(name, value, minimum, maximum, error=AlphaError)


def _check_layer_names(layer_names):
    # A bare string is a Sequence[str] too; iterating it would give one
    # "layer" per character, so reject it explicitly.
    if isinstance(layer_names, str):
        raise AlphaError(
            f"layer_names must be a sequence of layer names, not the string {layer_names!r}"
        )
    names = tuple(layer_names)
    if not names:
        raise AlphaError("layer_names is empty; the model needs at least one style layer")
    seen = set()
    for name in names:
        # ',' and '=' are the separators of the text form, so such a name
        # could never be written on a command line.
        if not isinstance(name, str) or not name.strip() or "," in name or "=" in name:
            raise AlphaError(
                f"invalid style layer name {name!r}; names must be non-empty strings "
                "without ',' or '='"
            )
        if name in seen:
            raise AlphaError(f"style layer name {name!r} appears twice in layer_names")
        seen.add(name)
    return names


def _valid_layers_hint(names):
    return "valid layers: " + ", ".join(names)


# ---------------------------------------------------------------------------
# Text form.
# ---------------------------------------------------------------------------


def _parse_number(token, entry):
    """Parses one alpha value; ``entry`` is the full comma-separated item."""
    if not token:
        raise AlphaError(f"alpha entry {entry!r} has no value; expected a number in [0, 1]")
    try:
        if not token.isascii():  # float() also reads other scripts' digits.
            raise ValueError(token)
        value = float(token)
    except ValueError:
        raise AlphaError(
            f"alpha entry {entry!r} is not a number; expected a number in [0, 1]"
        ) from None
    if not math.isfinite(value):
        raise AlphaError(f"alpha entry {entry!r} is not finite; expected a number in [0, 1]")
    if not 0.0 <= value <= 1.0:
        raise AlphaError(f"alpha entry {entry!r} is outside [0, 1]")
    return value


def parse_alpha(text, layer_names, *, default=None):
    """Parses alpha from command-line text.

    Accepted forms (whitespace around entries, names and ``=`` is ignored):

    * positional: exactly ``len(layer_names)`` comma-separated numbers in
      layer order, e.g. ``"0.2,1,0.5"``;
    * broadcast: a single number used for every layer, e.g. ``"0.5"``;
    * named: ``name=value`` pairs in any order, e.g.
      ``"block2_conv2=0.2,block4_conv4=1,block3_conv4=0"``.

    In the named form every layer must be named unless ``default`` is given,
    in which case unnamed layers take ``default``.  Requiring all names by
    default is deliberate: there is no value a user would obviously expect for
    a forgotten layer (0 removes its style entirely, 1 is full strength), so a
    silent choice would produce a surprising picture.  A CLI that wants
    "unnamed layers are off" passes ``default=0.0``.

    Mixing the two forms in one string is an error, as are empty entries,
    non-numbers, NaN/inf, values outside [0, 1], unknown or repeated layer
    names and a wrong number of positional values.

    Args:
      text: The user's text.
      layer_names: The model's style layer names, in the order the model
        expects alpha.
      default: Value for layers not named in the named form; ``None`` (the
        default) makes leaving a layer out an error.

    Returns:
      float32 array of shape ``(len(layer_names),)``.

    Raises:
      AlphaError: with a one-line message naming the offending entry.
    """
    names = _check_layer_names(layer_names)
    num_layers = len(names)
    if default is not None:
        if isinstance(default, bool) or not isinstance(default, numbers.Real):
            raise AlphaError(f"default must be a number in [0, 1], got {default!r}")
        default = float(validate_alpha([float(default)], 1)[0])
    if not isinstance(text, str):
        raise AlphaError(f"alpha text must be a string, got {type(text).__name__}")
    example = ",".join(["0.5"] * num_layers)
    if not text.strip():
        raise AlphaError(
            f"alpha {text!r} is empty; give {num_layers} comma-separated numbers in [0, 1] "
            f"(e.g. {example!r}), one number for all layers, or name=value pairs "
            f"({_valid_layers_hint(names)})"
        )

    entries = [entry.strip() for entry in text.split(",")]
    for position, entry in enumerate(entries, start=1):
        if not entry:
            raise AlphaError(
                f"alpha {text.strip()!r} has an empty entry at position {position}; "
                "remove the extra ','"
            )

    # The first entry decides the form so that the error for a mixed string
    # points at the first entry that breaks it.
    named = "=" in entries[0]
    for entry in entries:
        if ("=" in entry) != named:
            if named:
                raise AlphaError(
                    f"alpha entry {entry!r} has no layer name but earlier entries use "
                    "name=value; use one form throughout"
                )
            raise AlphaError(
                f"alpha entry {entry!r} is name=value but earlier entries are plain "
                "numbers; use one form throughout"
            )

    if not named:
        values = [_parse_number(entry, entry) for entry in entries]
        if len(values) == 1:
            return np.full((num_layers,), values[0], dtype=np.float32)
        if len(values) != num_layers:
            raise AlphaError(
                f"alpha {text.strip()!r} has {len(values)} values but the model has "
                f"{num_layers} style layers ({', '.join(names)}); give exactly {num_layers} "
                "or a single value for all layers"
            )
        return np.asarray(values, dtype=np.float32)

    index = {name: i for i, name in enumerate(names)}
    result = [None] * num_layers
    for entry in entries:
        name, _, value_text = entry.partition("=")
        name = name.strip()
        if not name:
            raise AlphaError(
                f"alpha entry {entry!r} has an empty layer name; {_valid_layers_hint(names)}"
            )
        if name not in index:
            raise AlphaError(
                f"unknown style layer {name!r} in alpha entry {entry!r}; "
                f"{_valid_layers_hint(names)}"
            )
        if result[index[name]] is not None:
            raise AlphaError(f"style layer {name!r} is given more than once in alpha")
        result[index[name]] = _parse_number(value_text.strip(), entry)

    missing = [name for name, value in zip(names, result) if value is None]
    if missing:
        if default is None:
            raise AlphaError(
                f"alpha does not set style layer(s) {', '.join(missing)}; name every layer "
                f"({_valid_layers_hint(names)}) or give plain numbers"
            )
        result = [default if value is None else value for value in result]
    return np.asarray(result, dtype=np.float32)


def validate_alpha(values, num_layers):
    """Checks an alpha array coming from Python code.

    Args:
      values: Array-like of shape ``(num_layers,)`` or ``(batch, num_layers)``
        (lists, numpy arrays and eager tensors all work).
      num_layers: Number of style layers of the model.

    Returns:
      A new float32 array with the same shape.

    Raises:
      AlphaError: wrong shape, non-numeric, non-finite or outside [0, 1].
    """
    num_layers = _check_int("num_layers", num_layers, minimum=1)
    # numpy would happily convert "0.5" to a float; text belongs in parse_alpha,
    # which knows the layer names and gives better messages.
    if isinstance(values, str):
        raise AlphaError(f"alpha must be numbers, got {values!r}; use parse_alpha for text")
    try:
        array = np.asarray(values)
        if array.dtype.kind in "USO":  # Strings or objects such as None.
            raise TypeError
        array = array.astype(np.float64)
    except (TypeError, ValueError):  # Also ragged nested lists.
        raise AlphaError(
            f"alpha must be numeric with shape ({num_layers},) or (batch, {num_layers}), "
            f"got {type(values).__name__}"
        ) from None
    if array.ndim not in (1, 2) or array.shape[-1] != num_layers:
        raise AlphaError(
            f"alpha must have shape ({num_layers},) or (batch, {num_layers}), "
            f"got shape {array.shape}"
        )
    # Report the first offending element by index, which is what one needs to
    # find the bug in the calling code.
    not_finite = ~np.isfinite(array)
    if not_finite.any():
        where = tuple(int(i) for i in np.argwhere(not_finite)[0])
        raise AlphaError(f"alpha{list(where)} is {float(array[where])!r}; values must be finite")
    outside = (array < 0.0) | (array > 1.0)
    if outside.any():
        where = tuple(int(i) for i in np.argwhere(outside)[0])
        raise AlphaError(f"alpha{list(where)} = {float(array[where])!r} is outside [0, 1]")
    return array.astype(np.float32)


def format_alpha(values, layer_names):
    """Formats one alpha vector in the named text form.

    The shortest decimal that identifies each float32 value is used, so
    ``parse_alpha(format_alpha(a, names), names)`` returns exactly
    ``validate_alpha(a, len(names))``.  No spaces are emitted so the result can
    be pasted into a shell or used in a file name without quoting.

    Returns:
      The text (a str), e.g. ``"block2_conv2=0.2,block3_conv4=1,block4_conv4=0.5"``.
    """
    names = _check_layer_names(layer_names)
    array = validate_alpha(values, len(names))
    if array.ndim != 1:
        raise AlphaError(
            f"format_alpha formats one alpha vector of shape ({len(names)},), got shape "
            f"{array.shape}; format each row separately"
        )
    return ",".join(
        f"{name}={np.format_float_positional(value, unique=True, trim='-')}"
        for name, value in zip(names, array)
    )


# ---------------------------------------------------------------------------
# Random alpha.
# ---------------------------------------------------------------------------


def sample_alpha(num_samples, num_layers, seed):
    """Draws alpha ~ U(0, 1) independently per sample and per layer.

    Returns:
      float32 array of shape ``(num_samples, num_layers)`` in [0, 1]; the same
      integer seed always gives the same values.
    """
    num_samples = _check_int("num_samples", num_samples, minimum=0)
    num_layers = _check_int("num_layers", num_layers, minimum=1)
    rng = np.random.default_rng(seed)
    # Casting [0, 1) float64 to float32 may round up to exactly 1.0, which is
    # still a valid alpha.
    return rng.random((num_samples, num_layers)).astype(np.float32)


# ---------------------------------------------------------------------------
# Alpha schedules.
# ---------------------------------------------------------------------------


def alpha_walk(num_frames, num_layers, seed, *, period=30, start=None, loop=False):
    """Smooth random path through [0, 1]^L for animations.

    Random keyframes ~ U(0, 1) are placed every ``period`` frames and joined
    with cosine easing, ``a + (b - a) * (1 - cos(pi * t)) / 2``.  Unlike
    Catmull-Rom splines this never overshoots, so the path stays in [0, 1]
    without clipping; the speed falls to zero at each keyframe, so the motion
    has no kinks.  Consecutive frames differ by at most
    ``pi / (2 * period)`` per layer (about 0.05 for the default period).

    Args:
      num_frames: Number of frames (>= 1).
      num_layers: Number of style layers.
      seed: Seed for :func:`numpy.random.default_rng`.
      period: Frames between keyframes (>= 1).
      start: Optional ``(num_layers,)`` alpha for the first frame, e.g. the
        user's current slider values.
      loop: Make the path end where it starts so the animation loops
        seamlessly (frame ``num_frames`` would equal frame 0).  The keyframe
        spacing then becomes ``num_frames / max(2, round(num_frames /
        period))`` so the keyframes divide the loop evenly (at least two, or
        the loop would stand still); the per-frame bound above uses this
        spacing instead of ``period``.

    Returns:
      float32 array of shape ``(num_frames, num_layers)``.
    """
    num_frames = _check_int("num_frames", num_frames, minimum=1)
    num_layers = _check_int("num_layers", num_layers, minimum=1)
    period = _check_int("period", period, minimum=1)
    rng = np.random.default_rng(seed)

    if loop:
        num_segments = max(2, round(num_frames / period))
        spacing = num_frames / num_segments
        keys = rng.random((num_segments + 1, num_layers))
        keys[-1] = keys[0]
    else:
        num_segments = max(1, math.ceil((num_frames - 1) / period))
        spacing = float(period)
        keys = rng.random((num_segments + 1, num_layers))
    if start is not None:
        start = validate_alpha(start, num_layers)
        if start.ndim != 1:
            raise AlphaError(f"start must have shape ({num_layers},), got {start.shape}")
        keys[0] = start
        if loop:
            keys[-1] = start

    position = np.arange(num_frames) / spacing
    segment = np.minimum(np.floor(position).astype(int), num_segments - 1)
    t = (position - segment)[:, None]
    ease = 0.5 - 0.5 * np.cos(np.pi * t)
    path = keys[segment] + (keys[segment + 1] - keys[segment]) * ease
    # Easing is a convex combination of two values in [0, 1]; clipping only
    # guards the float32 cast against rounding a hair outside.
    return np.clip(path, 0.0, 1.0).astype(np.float32)


def _fixed_alpha(fixed, num_layers):
    """A number or an (L,) alpha, as an (L,) float32 alpha."""
    if np.ndim(fixed) == 0 and not isinstance(fixed, str):
        fixed = [fixed] * num_layers
    alpha = validate_alpha(fixed, num_layers)
    if alpha.ndim != 1:
        raise AlphaError(f"fixed must be a number or shape ({num_layers},), got {alpha.shape}")
    return alpha


def sweep_alphas(num_layers, layer_index, steps, fixed=0.0):
    """One layer going 0 -> 1 while the others stay fixed (paper Figure 3 rows).

    Args:
      num_layers: Number of style layers.
      layer_index: The swept layer, ``0 <= layer_index < num_layers``.
      steps: Number of evenly spaced values from 0 to 1 inclusive (>= 2).
      fixed: Value of the other layers: one number, or a ``(num_layers,)``
        alpha (e.g. the current sliders; its entry for the swept layer is
        ignored).

    Returns:
      float32 array of shape ``(steps, num_layers)``.
    """
    num_layers = _check_int("num_layers", num_layers, minimum=1)
    layer_index = _check_int("layer_index", layer_index, minimum=0, maximum=num_layers - 1)
    steps = _check_int("steps", steps, minimum=2)
    alphas = np.tile(_fixed_alpha(fixed, num_layers), (steps, 1))
    alphas[:, layer_index] = np.linspace(0.0, 1.0, steps)
    return alphas


def grid_alphas(num_layers, i, j, steps, fixed=0.0):
    """Two layers on a steps x steps grid, the others fixed (paper Figure 9).

    Row-major: entry ``r * steps + c`` has layer ``i`` at ``r / (steps - 1)``
    and layer ``j`` at ``c / (steps - 1)``, so ``reshape(steps, steps, L)``
    lays the pictures out with layer ``i`` growing down and ``j`` growing
    right.

    Returns:
      float32 array of shape ``(steps * steps, num_layers)``.
    """
    num_layers = _check_int("num_layers", num_layers, minimum=2)
    i = _check_int("i", i, minimum=0, maximum=num_layers - 1)
    j = _check_int("j", j, minimum=0, maximum=num_layers - 1)
    if i == j:
        raise AlphaError(f"grid_alphas needs two different layers, got i = j = {i}")
    steps = _check_int("steps", steps, minimum=2)
    values = np.linspace(0.0, 1.0, steps)
    alphas = np.tile(_fixed_alpha(fixed, num_layers), (steps * steps, 1))
    alphas[:, i] = np.repeat(values, steps)
    alphas[:, j] = np.tile(values, steps)
    return alphas
