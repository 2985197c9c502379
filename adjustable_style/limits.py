"""The largest sizes and counts the commands accept, said once, and their checks.

Every size, count and length a command takes has an upper bound here,
generous for real use and small enough that a machine can hold what it
asks for. The commands check them before any work, and where the memory a
request needs depends on an image (its header gives the size) they also
compare that need with the memory this machine has free (`check_memory`),
so a request that cannot fit is refused in one line that says how much it
would need, rather than ending in a killed process.

`parse_int` is how an integer is read from text anywhere (flags, the demo's
query strings, keyframes): ASCII digits only, since Python's `int` also
takes other scripts' digits ('１', '٣').

This module imports neither TensorFlow nor Keras.
"""

import os
import re
import resource

from adjustable_style import images
from adjustable_style.errors import UsageError, check_int

# Seeds: numpy's legacy seeding (and so Keras' `set_random_seed`) takes
# 0 .. 2**32 - 1; every command and the demo take the same range.
MAX_SEED = 2**32 - 1
# Pixels of one image a command makes or takes: the megapixel cap every
# command already applies to its inputs (`--max_pixels`'s default).
MAX_PIXELS = images.DEFAULT_MAX_PIXELS
# The largest `--max_pixels` itself (0 = no limit remains possible).
MAX_PIXELS_FLAG = 1_000_000_000
# The longest side of an image: JPEG's and PNG decoders' common limit.
MAX_SIDE = 65_535
# The side of a square of MAX_PIXELS (8000 for 64 megapixels).
MAX_SQUARE_SIDE = int(MAX_PIXELS**0.5)
# stylize.py --num_samples, per content image.
MAX_SAMPLES = 10_000
# stylize.py --animate --frames (11 minutes at 15 fps).
MAX_ANIMATION_FRAMES = 10_000
# stylize.py --sweep_steps: a --sweep_layers grid has steps^2 cells.
MAX_SWEEP_STEPS = 100
# Images per forward pass (stylize.py, train.py --batch_size).
MAX_BATCH_SIZE = 1024
# train.py --train_steps (and so --save_every, --log_every).
MAX_TRAIN_STEPS = 100_000_000
# Keyframes in --alpha_keyframes, and the frames of a video (9 hours at
# 30 fps); a keyframe's frame number or time may not lie past them.
MAX_KEYFRAMES = 10_000
MAX_VIDEO_FRAMES = 1_000_000
MAX_VIDEO_SECONDS = 24 * 3600
# Bytes per pixel of one image that lower-bound a command's peak memory:
# a stylizer forward pass (the strip-wise pass of large images peaks at
# about 300 bytes per pixel, the whole-image graph at 1 KB), and a training
# step (VGG's activations of the stylized batch alone, float32, about
# 1.2 KB per pixel; the gradients double that).
FORWARD_BYTES_PER_PIXEL = 300
TRAINING_BYTES_PER_PIXEL = 1200
# float32 RGB and uint8 RGB pixels.
FLOAT_PIXEL_BYTES = 12
UINT8_PIXEL_BYTES = 3


def check_count(flag, value, minimum, maximum):
    """`value` as an int in minimum..maximum, or a UsageError naming `flag` and both."""
    return check_int(flag, value, minimum, maximum)


def check_seed(flag, value, samples=1):
    """A seed (of which `samples` consecutive ones are used) in 0..MAX_SEED."""
    return check_int(flag, value, 0, MAX_SEED - (samples - 1))


def check_side(flag, value, minimum=1, maximum=MAX_SIDE):
    """An image side in pixels."""
    return check_int(flag, value, minimum, maximum)


def check_pixels(what, height, width, limit=MAX_PIXELS):
    """Refuses a height x width over `limit` pixels (default the megapixel cap)."""
    if height * width > limit:
        raise UsageError(
            f"{what} is {width}x{height} ({megapixels(height * width)}), over the limit of "
            f"{megapixels(limit)}"
        )


def megapixels(pixels):
    return f"{pixels / 1e6:.3g} megapixels"


def format_bytes(count):
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if count >= size:
            return f"{count / size:.3g} {unit}"
    return f"{count / 1e6:.2g} MB"


def _read_number(path):
    try:
        with open(path, encoding="ascii") as f:
            text = f.read().strip()
    except (OSError, ValueError):
        return None
    return int(text) if text.isdigit() else None


def available_memory():
    """Bytes this process can still allocate, as far as the system tells; None if unknown.

    The least of the free memory (MemAvailable), the room left under a
    cgroup's memory limit (containers) and under the address-space rlimit
    (`ulimit -v`).
    """
    room = []
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            match = re.search(r"^MemAvailable:\s+(\d+) kB", f.read(), re.M)
        if match:
            room.append(int(match.group(1)) * 1024)
    except OSError:
        pass
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),
    ):
        limit, usage = _read_number(limit_file), _read_number(usage_file)
        if limit is not None and usage is not None and limit < 2**60:
            room.append(max(0, limit - usage))
    try:
        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
    except (OSError, ValueError):
        soft = resource.RLIM_INFINITY
    if soft != resource.RLIM_INFINITY:
        used = 0
        try:
            with open("/proc/self/statm", encoding="ascii") as f:
                used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            pass
        room.append(max(0, soft - used))
    if not room:
        try:
            room.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (OSError, ValueError):
            return None
    return min(room)


def check_memory(what, needed):
    """Refuses `what` when the `needed` bytes are more than this machine has free."""
    free = available_memory()
    if free is not None and needed > free:
        raise UsageError(
            f"{what} needs at least {format_bytes(needed)} of memory; this machine has "
            f"{format_bytes(free)} free"
        )


_ASCII_INT = re.compile(r"[+-]?[0-9]+")


def parse_int(text, what, error=UsageError):
    """`text` (surrounding spaces allowed) as an int of ASCII digits, or `error`."""
    stripped = text.strip() if isinstance(text, str) else None
    if stripped is None or not _ASCII_INT.fullmatch(stripped):
        raise error(f"{what} must be a whole number in ASCII digits, got {text!r}")
    return int(stripped)
