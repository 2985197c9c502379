r"""The README's video example: a slow pan over a bundled photo, stylized with
alpha keyframes, as a small GIF.

    python experiments/video_example.py [--output=docs/video_keyframes.gif]

The clip is `benchmarks/flicker.py`'s pan (4 s at 12 fps, 192 px wide),
written as an MP4 and then stylized by the library behind `stylize.py`, the
way the command does it:

    python stylize.py --content=pan.mp4 --output=docs/video_keyframes.gif \
        --alpha_keyframes="0:1,0,0;2:0,0,1;4:1,1,1"
"""

if __name__ == "__main__":
    import _path  # noqa: F401  (the repository on sys.path)

import argparse
import os
import sys
import tempfile
import time

import numpy as np

from experiments.harness import REPO

sys.path.insert(0, os.path.join(REPO, "benchmarks"))  # benchmarks/flicker.py, a script's module

import flicker

from adjustable_style import images
from adjustable_style.stylize import pictures as stylize
from adjustable_style.stylize import video_files as video
from adjustable_style.stylize.options import Options

KEYFRAMES = "0:1,0,0;2:0,0,1;4:1,1,1"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default=os.path.join(REPO, "docs", "video_keyframes.gif"))
    parser.add_argument("--model", default="starry_night")
    parser.add_argument("--width", type=int, default=192)
    parser.add_argument("--fps", type=float, default=12.0)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    from PIL import Image

    photo = np.asarray(Image.open(flicker.PHOTO).convert("RGB"))
    frames, _ = flicker.pan_clip(photo, args.width, int(round(args.seconds * args.fps)) + 1)
    with tempfile.TemporaryDirectory() as folder:
        source = os.path.join(folder, "pan.mp4")
        height, width = frames.shape[1:3]
        writer = video.VideoWriter(source, width, height, args.fps, ".mp4")
        for frame in frames:
            writer.write(images.to_uint8(frame))
        writer.close()
        start = time.perf_counter()
        stylize.run(
            Options(model=args.model, content=source, output=args.output, alpha_keyframes=KEYFRAMES)
        )
        seconds = time.perf_counter() - start
    print(
        f"{len(frames)} frames in {seconds:.1f} s ({len(frames) / seconds:.1f} fps, model "
        f"loading included); {os.path.getsize(args.output) / 1024:.0f} KiB"
    )


if __name__ == "__main__":
    main()
