"""The precision stylizing computes in: `--precision=auto|float32|bfloat16`.

bfloat16 convolutions halve the time on CPUs that compute bfloat16 natively
(Intel AMX, AVX512_BF16); elsewhere TensorFlow emulates them through float32
conversions and they run several times slower. So:

- `float32` always computes in float32;
- `bfloat16` always computes the convolutions in bfloat16, with one warning
  line where the CPU only emulates it;
- `auto` (the default) is float32 on a CPU without native bfloat16. On one
  with it, the first image of each size is stylized in both precisions and
  bfloat16 is kept for that size only if its output is within
  `MIN_PSNR_DB` of float32's (that first image gets the float32 result).
  The check runs on the user's own photos, once per size and model.
"""

import math
import sys

import numpy as np

from adjustable_style import hardware

PRECISIONS = ("auto", "float32", "bfloat16")
# 40 dB PSNR: a mean squared error of 1e-4, about 2.5 of 255 levels RMS, at
# which differences are hard to see side by side.
MIN_PSNR_DB = 40.0


def psnr(a, b):
    """Peak signal-to-noise ratio in dB of two images in [0, 1] (inf if equal)."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def resolve(requested, flags=None, warn=None):
    """ "float32", "bfloat16" or "auto" (bfloat16 if it passes the PSNR check).

    `flags` are CPU flags (default: this CPU's); `warn` receives the one
    warning line of a forced bfloat16 on a CPU that emulates it (default:
    stderr).
    """
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {requested!r}")
    native = hardware.native_bfloat16_flags(flags)
    if requested == "float32":
        return "float32"
    if requested == "bfloat16":
        if not native:
            (warn or (lambda line: print(line, file=sys.stderr, flush=True)))(
                "warning: --precision=bfloat16: this CPU has no native bfloat16 "
                f"({' or '.join(hardware.NATIVE_BFLOAT16_FLAGS)}); it is emulated "
                "and runs several times slower than float32"
            )
        return "bfloat16"
    return "auto" if native else "float32"


class PrecisionStylizer:
    """`(content, alpha) -> stylized` in the precision `resolve` chose.

    In "auto", bfloat16 is used for an image size once the first image of
    that size has passed the PSNR check; `verdicts` holds each size's PSNR.
    """

    def __init__(self, stylizer, mode):
        # Imported here: `resolve` runs before TensorFlow is imported.
        from adjustable_style.inference.stylizer import FastStylizer

        if mode not in ("float32", "bfloat16", "auto"):
            raise ValueError(f"unknown precision mode {mode!r}")
        self.mode = mode
        self.exact = FastStylizer(stylizer) if mode != "bfloat16" else None
        self.fast = FastStylizer(stylizer, "bfloat16") if mode != "float32" else None
        self.verdicts = {}

    def precision_for(self, height, width):
        """The precision used for images of this size (None: not checked yet)."""
        if self.mode != "auto":
            return self.mode
        if (height, width) not in self.verdicts:
            return None
        return "bfloat16" if self.verdicts[height, width] >= MIN_PSNR_DB else "float32"

    def __call__(self, content, alpha=None):
        return self._run("__call__", content, alpha)

    def stylize_map(self, content, alpha_map, exact=False):
        """`FastStylizer.stylize_map` in the chosen precision."""
        return self._run("stylize_map", content, alpha_map, exact=exact)

    def _run(self, method, content, alpha, **options):
        content = np.asarray(content, np.float32)
        size = content.shape[1:3]
        chosen = self.precision_for(*size)
        if chosen == "float32":
            return getattr(self.exact, method)(content, alpha, **options)
        if chosen == "bfloat16":
            return getattr(self.fast, method)(content, alpha, **options)
        exact = getattr(self.exact, method)(content, alpha, **options)
        fast = getattr(self.fast, method)(content, alpha, **options)
        self.verdicts[size] = min(psnr(f, e) for f, e in zip(fast, exact))
        return exact
