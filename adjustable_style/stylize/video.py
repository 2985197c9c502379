"""Stylizing a video: `stylize.pictures.run` hands a video `--content` to `run` here.

Frames stream from the decoder through the model into the encoder a batch
at a time (`--batch_size` frames), so memory stays flat however long the
clip is. The output keeps the frame rate, the frame count and the size (or
`--max_size`), and the source's audio track (copied; see `video`). It is
written to a hidden temporary file beside its final place and renamed only
once complete, so a failed or interrupted run leaves nothing.

Alpha over time, one of:
- `--alpha` (or its default, 1 everywhere) on every frame;
- `--random_alpha`: one draw from `--seed`, on every frame;
- `--alpha_walk`: the random walk of `--animate` (keyframes
  `WALK_KEYFRAME_SECONDS` apart), spread over the clip, not looped;
- `--alpha_keyframes`: see `stylize.keyframes`.
Lambda runs once per distinct alpha (the fast path caches its output per
alpha row), never per pixel.

`--content_noise` draws one mask (from `--seed`) for the whole clip: a mask
that moved from frame to frame would make the style jump. Temporal
smoothing (`--temporal_norm`, `--hold_still`) is in `temporal`.
"""

import os
import secrets
import sys
import tempfile
import time

import numpy as np

from adjustable_style import alpha_vectors, color, dataclass_flags, images, leftovers, limits, noise
from adjustable_style.errors import UsageError
from adjustable_style.stylize import keyframes as alpha_keyframes
from adjustable_style.stylize import options as stylize_options
from adjustable_style.stylize import output_plan
from adjustable_style.stylize import video_files as video

DEFAULT_EXTENSION = ".mp4"
# Seconds between the keyframes of --alpha_walk, as --animate's walk.
WALK_KEYFRAME_SECONDS = 1.5


def smoothing_flags(options):
    """The flags of the smoothing in use (none for none)."""
    return dataclass_flags.to_flags(
        options,
        ("temporal_norm", "hold_still"),
        temporal_norm=options.temporal_norm or None,
        hold_still=options.hold_still or None,
    )


def plan_output(content, output):
    """The final output path of video `content` for `--output`."""
    if not output:
        raise UsageError("no output given; pass --output=FILE.mp4 or FOLDER")
    ext = os.path.splitext(output)[1].lower()
    if output.endswith(("/", os.sep)) or os.path.isdir(output) or not ext:
        if os.path.exists(output) and not os.path.isdir(output):
            raise images.ImageError(f"{output}: exists and is not a folder")
        parent = os.path.dirname(os.path.abspath(output))
        if not os.path.isdir(output) and not os.path.isdir(parent):
            raise images.ImageError(f"{output}: cannot make this output folder, no folder {parent}")
        stem = os.path.splitext(os.path.basename(content))[0]
        final = os.path.join(output, stem + DEFAULT_EXTENSION)
    else:
        if ext not in video.OUTPUT_EXTENSIONS:
            raise images.ImageError(
                f"{output}: a video is written as {', '.join(video.OUTPUT_EXTENSIONS)}, not {ext!r}"
            )
        folder = os.path.dirname(os.path.abspath(output))
        if not os.path.isdir(folder):
            raise images.ImageError(f"{output}: folder {folder} does not exist")
        if os.path.exists(output) and not os.path.isfile(output):
            raise images.ImageError(f"{output}: exists and is not a regular file")
        final = output
    if os.path.exists(final) and os.path.samefile(final, content):
        raise UsageError(f"{final}: would overwrite the content video; choose another --output")
    return final


class Progress:
    """One self-rewriting line on a terminal: frames, fps, time left."""

    def __init__(self, total, stream=None, every=0.5):
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.active = getattr(self.stream, "isatty", lambda: False)()
        self.start = time.monotonic()
        self.every = every
        self.shown = 0.0

    def line(self, done, now):
        elapsed = max(now - self.start, 1e-9)
        fps = done / elapsed
        text = f"frame {done}/{self.total}"
        if self.total:
            text += f" ({100 * done // self.total}%)"
        text += f"  {fps:.1f} fps"
        if fps > 0 and self.total and done < self.total:
            left = int(round((self.total - done) / fps))
            text += f"  {left // 60}:{left % 60:02d} left"
        return text

    def update(self, done):
        now = time.monotonic()
        if self.active and (now - self.shown >= self.every or done == self.total):
            self.shown = now
            self.stream.write("\r" + self.line(done, now).ljust(50))
            self.stream.flush()

    def finish(self):
        if self.active:
            self.stream.write("\n")
            self.stream.flush()


def alpha_schedule(model, options, info, seed):
    """(frames -> (N, L) alphas, the flags that reproduce it); None for a base model."""
    names = model.style_layers
    if not model.adjustable:
        return None, []
    if options.alpha_keyframes is not None:
        keyframes = alpha_keyframes.parse_keyframes(options.alpha_keyframes)
        schedule = alpha_keyframes.KeyframeSchedule(keyframes, names, info.fps)
        return schedule, dataclass_flags.to_flags(options, ("alpha_keyframes",))
    start = None
    if options.alpha is not None:
        start = alpha_vectors.parse_alpha(options.alpha, names, default=1.0)
    if options.alpha_walk:
        period = max(1, int(round(WALK_KEYFRAME_SECONDS * info.fps)))
        walk = alpha_vectors.alpha_walk(
            info.num_frames, len(names), [seed, 2], period=period, start=start
        )
        flags = dataclass_flags.to_flags(
            options,
            ("alpha_walk", "seed", "alpha"),
            seed=seed,
            alpha=None if start is None else alpha_vectors.format_alpha(start, names),
        )
        # A container's frame count can be short by a frame or two; frames
        # past it hold the walk's last alpha.
        return lambda frames: walk[np.minimum(frames, len(walk) - 1)], flags
    if options.random_alpha:
        constant = alpha_vectors.sample_alpha(1, len(names), [seed, 0])[0]
    else:
        constant = start if start is not None else np.ones(len(names), np.float32)
    flags = dataclass_flags.to_flags(
        options, ("alpha",), alpha=alpha_vectors.format_alpha(constant, names)
    )
    return lambda frames: np.repeat(constant[None], len(frames), axis=0), flags


def _check_model(model, options):
    if model.adjustable:
        return
    for name, used in (
        ("alpha", options.alpha is not None),
        ("random_alpha", options.random_alpha),
        ("alpha_keyframes", options.alpha_keyframes is not None),
        ("alpha_walk", options.alpha_walk),
    ):
        if used:
            raise UsageError(
                f"--{name}: this model has no alpha (it is a base model with fixed "
                "style weights, not an adjustable one)"
            )


def _remove_leftovers(final, out):
    """Removes the partial files of killed runs that wrote `final` (see `leftovers`)."""
    folder, name = os.path.split(os.path.abspath(final))
    stem, ext = os.path.splitext(name)
    leftovers.remove_leftovers(folder, leftovers.pattern(f".{stem}.partial-", ext), out)


def _temporary_beside(final):
    """A hidden, empty file in `final`'s folder, with its extension (ffmpeg's format).

    Its name carries this process's id, so that a later run can tell it from
    the file of a run still going (`_remove_leftovers`).
    """
    folder, name = os.path.split(os.path.abspath(final))
    stem, ext = os.path.splitext(name)
    try:
        handle, path = tempfile.mkstemp(
            prefix=f".{stem}.partial-{os.getpid()}-", suffix=ext, dir=folder
        )
    except OSError as error:
        raise images.ImageError(
            f"{folder}: cannot write the output there ({error.strerror or error})"
        ) from None
    os.close(handle)
    return path


def check_size(info, options, ext):
    """Refuses a clip longer than the frame limit, or one this machine cannot hold.

    Frames stream a batch at a time, but a GIF's single palette makes
    ffmpeg keep every frame until the end.
    """
    frames = info.num_frames or 0  # Unknown: the decoder's count is checked as it goes.
    if frames > limits.MAX_VIDEO_FRAMES:
        raise video.VideoError(
            f"{info.path}: {frames} frames, over the limit of "
            f"{limits.MAX_VIDEO_FRAMES}; cut the clip into parts"
        )
    target = images._fit_long_side((info.height, info.width), options.max_size)
    height, width = target or (info.height, info.width)
    pixels = height * width
    needed = min(options.batch_size, max(frames, 1)) * pixels * limits.FORWARD_BYTES_PER_PIXEL
    what = f"--batch_size={options.batch_size}"
    if ext == ".gif":
        needed += frames * pixels * limits.UINT8_PIXEL_BYTES
        what = f"a GIF of {frames} frames"
    limits.check_memory(f"{info.path}: stylizing it at {width}x{height} into {what}", needed)


def run(options, out=print, model=None):
    """Stylizes the video `options.content` into one file.

    Returns (the path written, the description printed after it).
    """
    from adjustable_style import model_files
    from adjustable_style.inference import runtime

    stylize_options.check_video_options(options)
    video.ffmpeg_exe()
    info = video.probe(options.content)
    final = plan_output(options.content, options.output)
    output_plan.check_existing([final], options.overwrite)
    ext = os.path.splitext(final)[1].lower()
    if options.max_pixels and info.width * info.height > options.max_pixels:
        raise images.ImageError(
            f"{info.path}: {info.width}x{info.height} frames have more than "
            f"--max_pixels={options.max_pixels} pixels"
        )
    check_size(info, options, ext)
    if model is None:
        model_files.check_model_spec(options.model)
        model = runtime.load_model(options.model)
    _check_model(model, options)
    seed = options.seed
    if seed is None and (options.random_alpha or options.content_noise or options.alpha_walk):
        seed = secrets.randbelow(2**31)
    schedule, flags = alpha_schedule(model, options, info, seed)
    target = images._fit_long_side((info.height, info.width), options.max_size)
    height, width = target or (info.height, info.width)
    mask = None
    if options.content_noise:
        mask = noise.noise_mask(
            height,
            width,
            [seed, 1],
            options.noise_points,
            options.noise_sigma,
            depth=options.noise_depth,
        )
        flags += dataclass_flags.to_flags(
            options, stylize_options.NOISE_FLAGS, content_noise=True, seed=seed
        )
    from adjustable_style.stylize import temporal

    smoother = temporal.FrameSmoother(model, options.temporal_norm, options.hold_still)
    keep_color = options.preserve_color
    if keep_color:
        flags += dataclass_flags.to_flags(options, ("preserve_color",))

    folder = os.path.dirname(os.path.abspath(final))
    made_folder = not os.path.isdir(folder)
    if made_folder:  # --output=FOLDER that does not exist yet (its parent does).
        os.mkdir(folder)
    _remove_leftovers(final, out)
    partial = _temporary_beside(final)
    writer = None
    progress = Progress(info.num_frames)
    try:
        writer = video.VideoWriter(partial, width, height, info.fps, ext, audio_from=info)
        batch, done = [], 0
        for frame in video.read_frames(info):
            batch.append(frame)
            if len(batch) == options.batch_size:
                done = _stylize_batch(
                    batch, done, (height, width), mask, schedule, smoother, writer, keep_color
                )
                batch = []
                progress.update(done)
        if batch:
            done = _stylize_batch(
                batch, done, (height, width), mask, schedule, smoother, writer, keep_color
            )
            progress.update(done)
        if done == 0:
            raise video.VideoError(f"{info.path}: no frame could be decoded")
        writer.close()
        progress.finish()
        # mkstemp makes the file private; the output gets the usual mode.
        os.chmod(partial, 0o666 & ~model_files.current_umask())
        os.replace(partial, final)
    except BaseException:
        progress.finish()
        if writer is not None:
            writer.abort()
        try:
            os.remove(partial)
            if made_folder:
                os.rmdir(folder)
        except OSError:
            pass
        raise
    audio = writer.audio_action or "no audio in the source"
    size = "x".join(map(str, video.output_size(width, height, ext)))
    flags += smoothing_flags(options)
    description = f"{done} frames, {info.fps:g} fps, {size}, {audio}; "
    description += dataclass_flags.command_line(flags)
    out(f"{final}: {description}")
    return final, description


def _stylize_batch(frames, done, size, mask, schedule, smoother, writer, preserve_color=False):
    """Stylizes and writes `frames` (uint8), numbered from `done`; returns the new count."""
    contents = np.stack(
        [
            images.resize_image(f, *size).astype(np.float32) / 255.0
            if f.shape[:2] != size
            else f.astype(np.float32) / 255.0
            for f in frames
        ]
    )
    originals = contents
    if mask is not None:
        contents = noise.apply_noise_mask(contents, mask)
    alphas = schedule(np.arange(done, done + len(frames))) if schedule else None
    for original, stylized in zip(originals, smoother(contents, alphas)):
        if preserve_color:
            stylized = np.asarray(color.preserve_color(original, stylized))
        writer.write(images.to_uint8(stylized))
    return done + len(frames)
