r"""Flicker of stylized video, and what `--temporal_norm` and `--hold_still` do to it.

    python benchmarks/flicker.py [--model=starry_night] [--size=256] [--frames=48]

Flicker, as measured here: the mean absolute change of the output between
consecutive frames divided by the input's (1 = the output changes as much
as the input; a per-frame stylizer is often far above 1, since it turns
small input changes into texture changes). On the still-background clip it
also reports the change of the output where the clean input did not change
at all (in 0-255 levels): pure flicker.

Two clips, made here from a bundled photo (adjustable_style/examples):
- pan: a slow pan and zoom over the photo (a real clip with camera motion);
- still: the photo as a still background, a small grey square moving across
  it, and camera-like noise (Gaussian, 2 levels of 255) on every frame.

For each setting: the flicker, and the change from the unsmoothed output
(mean absolute difference, levels: what the smoothing costs in fidelity);
then the frames per second of each, as a ratio to no smoothing (what it
costs in time).
"""

import argparse
import os
import sys
import time

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from adjustable_style.inference import runtime

PHOTO = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "adjustable_style",
    "examples",
    "chelsea.png",
)
SETTINGS = [
    ("none", 0.0, 0.0),
    ("temporal_norm=0.5", 0.5, 0.0),
    ("temporal_norm=0.9", 0.9, 0.0),
    ("hold_still=0.02", 0.0, 0.02),
    ("hold_still=0.05", 0.0, 0.05),
    ("temporal_norm=0.9 + hold_still=0.02", 0.9, 0.02),
]


def pan_clip(photo, size, frames):
    """A slow pan (a quarter of the width) and zoom (x1.25) over `photo`."""
    height = int(round(size * 3 / 4))
    h, w = photo.shape[:2]
    image = Image.fromarray(photo)
    clip = []
    for t in np.linspace(0.0, 1.0, frames):
        zoom = 1.0 + 0.25 * t
        crop_w, crop_h = 0.7 * w / zoom, 0.7 * w / zoom * height / size
        left = 0.05 * w + 0.25 * w * t
        top = (h - crop_h) / 2
        # An affine crop with sub-pixel offsets: motion, not a jump per pixel.
        scale_x, scale_y = crop_w / size, crop_h / height
        frame = image.transform(
            (size, height),
            Image.Transform.AFFINE,
            (scale_x, 0, left, 0, scale_y, top),
            resample=Image.Resampling.BICUBIC,
        )
        clip.append(np.asarray(frame, np.float32) / 255.0)
    return np.stack(clip), None


def still_clip(photo, size, frames, seed=0):
    """The photo still, a moving square, and sensor noise; also the unchanged mask."""
    height = int(round(size * 3 / 4))
    background = np.asarray(
        Image.fromarray(photo).resize((size, height), Image.Resampling.LANCZOS), np.float32
    )
    background /= 255.0
    rng = np.random.default_rng(seed)
    side = size // 8
    clip, moving = [], np.zeros((height, size), bool)
    for t in np.linspace(0.0, 1.0, frames):
        frame = background.copy()
        x = int(round(t * (size - side)))
        y = height // 2 - side // 2
        frame[y : y + side, x : x + side] = 0.5
        moving[y : y + side, x : x + side] = True
        noisy = frame + rng.normal(0, 2 / 255, frame.shape).astype(np.float32)
        clip.append(np.clip(noisy, 0, 1))
    return np.stack(clip), ~moving


def flicker(outputs, inputs, still=None):
    out_change = np.abs(np.diff(outputs, axis=0))
    in_change = np.abs(np.diff(inputs, axis=0))
    ratio = out_change.mean() / in_change.mean()
    still_change = 255 * out_change[:, still].mean() if still is not None else None
    return ratio, still_change


def smoothers(model):
    """{setting: FrameSmoother}, made once (each traces its own graph)."""
    from adjustable_style.stylize import temporal

    return {
        label: temporal.FrameSmoother(model, temporal_norm, hold_still)
        for label, temporal_norm, hold_still in SETTINGS
    }


def stylize(smoother, clip, alpha, batch):
    smoother.reset()
    alphas = np.repeat(alpha[None], len(clip), axis=0)
    outputs = []
    for begin in range(0, len(clip), batch):
        outputs += list(smoother(clip[begin : begin + batch], alphas[begin : begin + batch]))
    return np.stack(outputs)


def frames_per_second(smoothers, clip, alpha, batch, rounds):
    """{setting: fps}: the settings interleaved, the best round of each kept.

    On a shared machine a slow moment then hits every setting alike, so the
    ratios hold even when the absolute numbers wander.
    """
    best = {label: 0.0 for label in smoothers}
    for _ in range(rounds):
        for label, smoother in smoothers.items():
            start = time.perf_counter()
            stylize(smoother, clip, alpha, batch)
            best[label] = max(best[label], len(clip) / (time.perf_counter() - start))
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="starry_night")
    parser.add_argument("--size", type=int, default=256, help="Frame width (height 3/4 of it).")
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--alpha", default="1,1,1")
    parser.add_argument("--timing_frames", type=int, default=8)
    parser.add_argument("--speed_only", action="store_true", help="Skip the flicker tables.")
    args = parser.parse_args()

    model = runtime.load_model(args.model)
    alpha = np.array([float(a) for a in args.alpha.split(",")], np.float32)
    photo = np.asarray(Image.open(PHOTO).convert("RGB"))
    print(f"model {args.model}, alpha {args.alpha}, {args.frames} frames of {args.size} px wide")
    ways = smoothers(model)
    clips = {
        "pan": pan_clip(photo, args.size, args.frames),
        "still": still_clip(photo, args.size, args.frames),
    }
    for name, (clip, still) in clips.items() if not args.speed_only else ():
        change = 255 * np.abs(np.diff(clip, axis=0)).mean()
        print(f"\nclip: {name}  (input change {change:.2f} levels a frame)")
        header = f"{'setting':38s} {'flicker':>8s}"
        header += f" {'still px':>9s}" if still is not None else ""
        print(header + f" {'vs none':>8s}")
        reference = None
        for label, smoother in ways.items():
            outputs = stylize(smoother, clip, alpha, args.batch)
            if reference is None:
                reference = outputs
            ratio, still_change = flicker(outputs, clip, still)
            row = f"{label:38s} {ratio:8.2f}"
            row += f" {still_change:9.2f}" if still is not None else ""
            print(row + f" {255 * np.abs(outputs - reference).mean():8.2f}")
    fps = frames_per_second(ways, clips["still"][0][: args.timing_frames], alpha, args.batch, 3)
    print(f"\nspeed ({args.timing_frames} frames, best of 3 interleaved rounds)")
    for label, _, _ in SETTINGS:
        print(f"{label:38s} {fps[label]:6.2f} fps {fps[label] / fps['none']:6.2f} x none")


if __name__ == "__main__":
    main()
