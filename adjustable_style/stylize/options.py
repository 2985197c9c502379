"""What `stylize.py` can be asked to do: `Options`, its defaults and checks.

`Options` names every setting once, with its default and its help text:
`adjustable-style-stylize` (and `stylize.py`) make one absl flag per field
(`commands.dataclass_flags`), and `stylize.run(options)` does the work.
`validate` refuses combinations that cannot work, before TensorFlow starts.
"""

import dataclasses
import math
import os
from typing import List, Optional

import numpy as np

from adjustable_style import alpha_maps, images, limits, model_files, noise
from adjustable_style.errors import UsageError, check_int
from adjustable_style.inference import runtime
from adjustable_style.stylize import keyframes, video_files

DEFAULT_MAX_SIZE = 1024
# A bundled photo, so that `python stylize.py` works out of the box.
DEFAULT_CONTENT = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "chelsea.png"
)
DEFAULT_OUTPUT = "stylized"


# The flags that reproduce a content-noise mask, in the order a
# "reproduce this" line gives them.
NOISE_FLAGS = ("content_noise", "seed", "noise_points", "noise_sigma", "noise_depth")


def _setting(default, help, **metadata):
    """A field with its flag's help (and `choices`, for an enum flag)."""
    return dataclasses.field(default=default, metadata={"help": help, **metadata})


@dataclasses.dataclass
class Options:
    """Everything `stylize.py` can be asked to do; each field is one of its flags."""

    model: Optional[str] = _setting(
        None,
        "A .keras file, a training model folder (model.keras + model.json), a "
        "SavedModel folder written by export/saved_model.py, or the name of a "
        f"shipped model (see --list_models). Default: {model_files.DEFAULT_MODEL}.",
    )
    content: Optional[str] = _setting(
        DEFAULT_CONTENT,
        "Content image(s): a file, a folder (its images, not recursive), a glob "
        "('photos/*.jpg'), or a comma-separated list of those; or one video "
        "(.mp4, .m4v, .mov, .mkv, .webm, .avi; an animated .gif when --output is a "
        "video), stylized frame by frame with its sound kept (needs the 'video' "
        "extra). Default: a bundled "
        "example photo (adjustable_style/examples/chelsea.png).",
    )
    output: str = _setting(
        DEFAULT_OUTPUT,
        "A file (.png, .jpg, .webp, .bmp; for --animate .gif, .webp or .mp4; for a "
        "video .mp4, .webm or .gif) for one output, or a folder (a name without an extension; made if missing) "
        "where outputs are named after their content images.",
    )
    alpha: Optional[str] = _setting(
        None,
        "Style weight per style layer, each in [0, 1]: '0.2,1,0.5' in layer "
        "order, one number for every layer, or 'block2_conv2=0.2,...' (layers "
        "not named stay 1). Default: 1 for every layer.",
    )
    random_alpha: bool = _setting(False, "Draw alpha ~ U(0, 1) per layer for each sample.")
    alpha_map: Optional[str] = _setting(
        None,
        "An image that sets alpha per pixel, stretched to the content: its channels "
        "are the style layers in order (R, G, B = block2_conv2, block3_conv4, "
        "block4_conv4 for the default layers), black = 0, white = 1; a grayscale "
        "map gives every layer the same alpha. With --alpha_outside it is a "
        "black-and-white mask instead.",
    )
    alpha_outside: Optional[str] = _setting(
        None,
        "With --alpha_map: make the map a mask, white taking --alpha (default 1) and "
        "black this alpha, grey blending the two (--alpha's forms).",
    )
    alpha_map_statistics: str = _setting(
        "fast",
        "With --alpha_map, where each region's instance-norm statistics come from: "
        "fast, the map's own regions in one pass (each region looks like its alpha "
        "on its own content); exact, one extra whole-image pass per distinct alpha "
        "(a region's inside is then the uniform-alpha output; a map of at most 8 "
        "alphas over its 32 px cells, so flat regions with hard edges).",
        choices=("fast", "exact"),
    )
    preserve_color: bool = _setting(
        False,
        "Keep the content's colours: the stylized image's luminance with the content's "
        "chroma (YCbCr, BT.601), after Gatys et al. 2017.",
    )
    num_samples: int = _setting(
        1,
        "Outputs per content image (with --random_alpha and/or --content_noise), "
        f"1..{limits.MAX_SAMPLES}.",
    )
    seed: Optional[int] = _setting(
        None,
        f"Seed of --random_alpha, --content_noise and --animate, 0..{limits.MAX_SEED} "
        "(as train.py's); sample k of a run "
        "equals --seed=SEED+k --num_samples=1. Default: a fresh random seed; every "
        "output line prints the flags that reproduce it.",
    )
    content_noise: bool = _setting(
        False,
        "Multiply the content by a random mask with a few soft dark spots before "
        "stylizing, to vary where style elements go (the paper's section 5.3).",
    )
    noise_points: Optional[int] = _setting(
        None, "Dark spots of --content_noise, 1..9. Default: random in 1..9."
    )
    noise_sigma: Optional[float] = _setting(
        None,
        "Blur radius (Gaussian sigma) of the spots, in pixels. Default: 5% of the "
        "shorter image side.",
    )
    noise_depth: Optional[float] = _setting(
        None,
        "How deep the spots of --content_noise go, in (0, 1]: their centres are "
        f"multiplied by 1 - depth. Default: {noise.DEFAULT_DEPTH:g}, which moves style "
        "elements without painting dark blotches; 1 gives the first, black-centred mask.",
    )
    max_size: int = _setting(
        DEFAULT_MAX_SIZE,
        "Shrink images so that their long side is at most this many pixels "
        "before stylizing (the output has that size); 0 = full size. Images over "
        "2048x2048 are stylized one layer at a time in strips: the same result "
        "in bounded memory (about 0.2 KB per pixel). At most "
        f"{limits.MAX_SIDE}.",
    )
    max_pixels: int = _setting(
        images.DEFAULT_MAX_PIXELS,
        f"Refuse content images with more pixels (0 = no limit), at most {limits.MAX_PIXELS_FLAG}.",
    )
    batch_size: int = _setting(
        runtime.DEFAULT_BATCH_SIZE,
        f"Images per forward pass (samples, sweep cells, frames), 1..{limits.MAX_BATCH_SIZE}.",
    )
    sweep: bool = _setting(
        False,
        "Write the paper's Figure 3 as one image: a row per style layer, its "
        "alpha going 0 -> 1 across the columns, the others at --sweep_fixed.",
    )
    sweep_steps: int = _setting(
        5, f"Columns of --sweep (alphas from 0 to 1), 2..{limits.MAX_SWEEP_STEPS}."
    )
    sweep_fixed: Optional[str] = _setting(
        None,
        "Alpha of the layers a --sweep row does not vary, in --alpha's forms "
        "(layers not named are 0). Default: 0.",
    )
    sweep_layers: Optional[List[str]] = _setting(
        None,
        "Two style layers, e.g. block2_conv2,block4_conv4: a --sweep_steps^2 "
        "grid (the paper's Figure 9), the first layer growing down, the second "
        "right. Implies --sweep.",
    )
    sweep_labels: bool = _setting(True, "Label the --sweep rows and columns with their alphas.")
    animate: bool = _setting(
        False,
        "Write an animation of a smooth, looping random walk through alpha space "
        "(random keyframes 1.5 s apart, eased; GIF or WebP with Pillow, MP4 "
        "needs imageio[ffmpeg]).",
    )
    frames: int = _setting(90, f"Frames of --animate, 1..{limits.MAX_ANIMATION_FRAMES}.")
    fps: float = _setting(15.0, "Frames per second of --animate.")
    alpha_keyframes: Optional[str] = _setting(
        None,
        "Video only: alpha over time, 'TIME:ALPHA;TIME:ALPHA;...' with TIME in "
        "seconds or fN for frame N and ALPHA in any --alpha form, e.g. "
        "'0:1,0,0;4:0,0,1;f240:1'. Smooth between keyframes (monotone cubic, no "
        "overshoot), held before the first and after the last.",
    )
    alpha_walk: bool = _setting(
        False,
        "Video only: alpha follows the random walk of --animate (from --seed, "
        "starting at --alpha if given) over the whole clip.",
    )
    temporal_norm: float = _setting(
        0.0,
        "Video only, less flicker: each instance norm uses a moving average of its "
        "statistics over frames, weight M on the past (0 = off). Stylizes one frame "
        "at a time; see benchmarks/flicker.py for what it does on your clips.",
    )
    hold_still: float = _setting(
        0.0,
        "Video only, less flicker: keep the previous output where the input changed "
        "by less than this (mean absolute RGB difference in [0, 1]; 0 = off; try "
        "0.02).",
    )
    precision: str = _setting(
        "auto",
        "Compute precision: float32, bfloat16 (the convolutions; a warning "
        "where the CPU only emulates it), or auto: bfloat16 only on a CPU with "
        "native bfloat16 (AMX or AVX512_BF16) and only for image sizes where "
        "its output stays within 40 dB PSNR of float32 (checked on the first "
        "image of each size), float32 elsewhere. A SavedModel runs in float32.",
    )
    list_models: bool = _setting(
        False, "Print the shipped models, their style and training summary, and exit."
    )
    overwrite: bool = _setting(
        False,
        "Replace output files that already exist (only the files this run writes; "
        "other files in an output folder are never touched). Without it an existing "
        "output is refused in one line that names it. See docs/outputs.md.",
    )

    def kind(self):
        """What one content image becomes: "images", a "sweep" or an "animation"."""
        if self.animate:
            return "animation"
        if self.sweep or self.sweep_layers:
            return "sweep"
        return "images"

    def validate(self):
        """Refuses flags that cannot work, with a one-line message."""
        sweeping = self.sweep or bool(self.sweep_layers)
        if not self.content:
            raise UsageError("no content image; pass --content=FILE, FOLDER or GLOB")
        _check_one_video(self.content, self.output)
        if sweeping and self.animate:
            raise UsageError("--sweep and --animate make different outputs; choose one")
        if self.random_alpha and self.alpha is not None:
            raise UsageError("--random_alpha draws alpha itself; drop --alpha or --random_alpha")
        if self.random_alpha and (sweeping or self.animate):
            raise UsageError(
                "--random_alpha does not apply to --sweep or --animate, "
                "which choose their own alphas"
            )
        if self.alpha is not None and sweeping:
            raise UsageError("--sweep sets the other layers from --sweep_fixed; drop --alpha")
        self._check_alpha_map(sweeping)
        if self.sweep_fixed is not None and not sweeping:
            raise UsageError("--sweep_fixed needs --sweep")
        _check_int("num_samples", self.num_samples, 1, limits.MAX_SAMPLES)
        if self.num_samples > 1:
            if sweeping or self.animate:
                raise UsageError("--num_samples does not apply to --sweep or --animate")
            if not (self.random_alpha or self.content_noise):
                raise UsageError(
                    "--num_samples > 1 needs --random_alpha or --content_noise "
                    "(otherwise every sample is the same image)"
                )
        if self.seed is not None:
            limits.check_seed("--seed", self.seed, self.num_samples)
        if self.noise_points is not None:
            if not self.content_noise:
                raise UsageError("--noise_points needs --content_noise")
            _check_int("noise_points", self.noise_points, 1, noise.MAX_NOISE_POINTS)
        if self.noise_sigma is not None:
            if not self.content_noise:
                raise UsageError("--noise_sigma needs --content_noise")
            _check_positive("noise_sigma", self.noise_sigma)
        if self.noise_depth is not None:
            if not self.content_noise:
                raise UsageError("--noise_depth needs --content_noise")
            _check_positive("noise_depth", self.noise_depth, maximum=1)
        if self.precision not in ("auto", "float32", "bfloat16"):
            raise UsageError(
                f"--precision must be auto, float32 or bfloat16, got {self.precision!r}"
            )
        if (
            self.precision == "bfloat16"
            and self.model
            and model_files.is_saved_model_dir(self.model)
        ):
            raise UsageError(
                "--precision=bfloat16 needs a Keras model; a SavedModel runs in float32 as exported"
            )
        _check_int("max_size", self.max_size, 0, limits.MAX_SIDE)
        _check_int("max_pixels", self.max_pixels, 0, limits.MAX_PIXELS_FLAG)
        _check_int("batch_size", self.batch_size, 1, limits.MAX_BATCH_SIZE)
        _check_int("sweep_steps", self.sweep_steps, 2, limits.MAX_SWEEP_STEPS)
        _check_int("frames", self.frames, 1, limits.MAX_ANIMATION_FRAMES)
        # GIF stores frame times in hundredths of a second.
        _check_positive("fps", self.fps, maximum=100)
        check_video_options(self)

    def _check_alpha_map(self, sweeping):
        if self.alpha_outside is not None and not self.alpha_map:
            raise UsageError("--alpha_outside needs --alpha_map (the mask it applies outside)")
        if self.alpha_map_statistics not in ("fast", "exact"):
            raise UsageError(
                f"--alpha_map_statistics must be fast or exact, got {self.alpha_map_statistics!r}"
            )
        if self.alpha_map_statistics != "fast" and not self.alpha_map:
            raise UsageError("--alpha_map_statistics needs --alpha_map")
        if not self.alpha_map:
            return
        for name, used in (
            ("random_alpha", self.random_alpha),
            ("sweep", sweeping),
            ("animate", self.animate),
        ):
            if used:
                raise UsageError(
                    f"--alpha_map sets alpha itself; it does not combine with --{name}"
                )
        if self.alpha is not None and self.alpha_outside is None:
            raise UsageError(
                "--alpha_map sets alpha per pixel; --alpha applies with it only as the "
                "inside of a mask (add --alpha_outside)"
            )
        if is_video_content(self.content, self.output):
            raise UsageError("--alpha_map applies to images, not to a video")
        images.check_file(self.alpha_map, alpha_maps.AlphaMapError, "an alpha map image")


def _check_int(name, value, minimum, maximum=None):
    return check_int(f"--{name}", value, minimum, maximum)


def _check_positive(name, value, maximum=None):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise UsageError(f"--{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value <= 0 or (maximum and value > maximum):
        bound = f"in (0, {maximum:g}]" if maximum else "> 0"
        raise UsageError(f"--{name} must be {bound}, got {value!r}")
    return float(value)


def _check_one_video(content, output):
    """Refuses a video in a list of several contents: a video is stylized on its own."""
    if not isinstance(content, str) or "," not in content:
        return
    parts = [part.strip() for part in content.split(",") if part.strip()]
    videos = [part for part in parts if is_video_content(part, output)]
    if len(videos) > 1:
        raise UsageError(
            f"--content names {len(videos)} videos; stylize one video at a time (one run per video)"
        )
    if videos and len(parts) > 1:
        raise UsageError(
            f"--content: {videos[0]} is a video, stylized on its own; give it alone, "
            "without other images"
        )


def _single_path(content):
    return isinstance(content, str) and "," not in content and not any(c in content for c in "*?[")


def is_video_content(content, output):
    """Whether `content` is one video file (a .gif only when `output` is a video)."""
    if not _single_path(content):
        return False
    ext = os.path.splitext(content)[1].lower()
    if ext == ".gif":
        return os.path.splitext(output or "")[1].lower() in video_files.OUTPUT_EXTENSIONS
    return ext in video_files.INPUT_EXTENSIONS + video_files.SOUND_EXTENSIONS


def check_video_options(options):
    """Refuses video-only flags without a video, and flags a video cannot use."""
    is_video = is_video_content(options.content, options.output)
    video_flags = [
        name
        for name, used in (
            ("alpha_keyframes", options.alpha_keyframes is not None),
            ("alpha_walk", options.alpha_walk),
            ("temporal_norm", bool(options.temporal_norm)),
            ("hold_still", bool(options.hold_still)),
        )
        if used
    ]
    if not is_video:
        if video_flags:
            raise UsageError(
                f"--{video_flags[0]} needs a video --content ({', '.join(video_files.INPUT_EXTENSIONS)})"
            )
        return
    for name, used in (
        ("sweep", options.sweep or bool(options.sweep_layers)),
        ("animate", options.animate),
    ):
        if used:
            raise UsageError(f"--{name} makes a picture of one image; it does not apply to a video")
    if options.num_samples != 1:
        raise UsageError("--num_samples does not apply to a video (one output per video)")
    chosen = [
        name
        for name, used in (
            ("alpha_keyframes", options.alpha_keyframes is not None),
            ("alpha_walk", options.alpha_walk),
            ("random_alpha", options.random_alpha),
        )
        if used
    ]
    if len(chosen) > 1:
        raise UsageError(f"--{chosen[0]} and --{chosen[1]} both set alpha over time; choose one")
    if options.alpha_keyframes is not None:
        if options.alpha is not None:
            raise UsageError("--alpha_keyframes sets alpha itself; drop --alpha")
        keyframes.parse_keyframes(options.alpha_keyframes)
    check_smoothing(options.temporal_norm, options.hold_still)


def check_smoothing(temporal_norm, hold_still):
    """Refuses values of --temporal_norm and --hold_still that cannot work."""
    for name, value in (("temporal_norm", temporal_norm), ("hold_still", hold_still)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise UsageError(f"--{name} must be a number, got {value!r}")
        if not np.isfinite(value):
            raise UsageError(f"--{name} must be finite, got {value!r}")
    if not 0 <= temporal_norm < 1:
        raise UsageError(f"--temporal_norm must be in [0, 1), got {temporal_norm!r}")
    if not 0 <= hold_still <= 1:
        raise UsageError(f"--hold_still must be in [0, 1], got {hold_still!r}")
