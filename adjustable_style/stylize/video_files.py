"""Reading and writing video files with the ffmpeg that `imageio-ffmpeg` carries.

`probe` reads a file's header (size, frame rate, frame count, audio codec)
and turns ffmpeg's complaints into one line; `read_frames` decodes the
first video stream one RGB frame at a time; `VideoWriter` encodes frames
as they come and copies the source's first audio track into the output,
re-encoding it only where the container cannot hold its codec. Nothing here
holds more than one frame, so memory does not grow with the length.

The ffmpeg binary comes from the optional extra `video`
(`pip install 'adjustable_style[video]'`, which installs imageio-ffmpeg);
without it every entry point raises one `UsageError` that names the extra.
"""

import dataclasses
import fractions
import re
import subprocess
import tempfile

import numpy as np

from adjustable_style import images
from adjustable_style.errors import UsageError, UserError, one_line

# Containers read as video. GIF is both an image and a video format: the
# caller decides (see `stylize_video.is_video_content`).
INPUT_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".gif")
OUTPUT_EXTENSIONS = (".mp4", ".webm", ".gif")
# Sound files take the video route too, to be told they have no video stream.
SOUND_EXTENSIONS = (".m4a", ".mp3", ".wav", ".aac", ".ogg", ".opus", ".flac")

# Audio codecs each output container takes as they are (copied, not
# re-encoded); any other codec is encoded to the first-named format's own.
_AUDIO_COPY = {
    ".mp4": ("aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"),
    ".webm": ("opus", "vorbis"),
}
_AUDIO_ENCODE = {
    ".mp4": ["-c:a", "aac", "-b:a", "192k"],
    ".webm": ["-c:a", "libopus", "-b:a", "128k"],
}
_VIDEO_CODEC = {
    # crf 18 is close to visually lossless for x264; +faststart puts the
    # index first so players start before the whole file has arrived.
    ".mp4": [
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "18", "-preset", "medium",
        "-movflags", "+faststart", "-f", "mp4",
    ],
    ".webm": [
        "-c:v", "libvpx-vp9", "-pix_fmt", "yuv420p", "-crf", "30", "-b:v", "0",
        "-row-mt", "1", "-deadline", "good", "-cpu-used", "4", "-f", "webm",
    ],
    # One palette for the whole clip (ffmpeg keeps the frames until the
    # palette is known, so GIF is for short clips), ordered dithering so
    # that still regions do not crawl from frame to frame.
    ".gif": [
        "-filter_complex", "[0:v]split[a][b];[a]palettegen=stats_mode=full[p];"
        "[b][p]paletteuse=dither=bayer:bayer_scale=3",
        "-loop", "0", "-f", "gif",
    ],
}  # fmt: skip


class VideoError(UserError, ValueError):
    """A video that cannot be read or written, told in one line."""


def ffmpeg_exe():
    """The ffmpeg binary of imageio-ffmpeg, or a one-line error naming the extra."""
    try:
        import imageio_ffmpeg
    except ImportError:
        raise UsageError(
            "video needs the 'video' extra: pip install 'adjustable_style[video]' "
            "(or pip install imageio-ffmpeg)"
        ) from None
    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclasses.dataclass
class VideoInfo:
    """What a video file's header says."""

    path: str
    width: int
    height: int
    fps: float
    # Frames of the first video stream (counted from its packets, which is
    # quick); None where the container does not say.
    num_frames: int
    duration: float
    audio_codec: str = None

    @property
    def has_audio(self):
        return self.audio_codec is not None


def _reason(stderr):
    """ffmpeg's own reason for a failure: its last line that says something."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in reversed(lines):
        if "At least one output file must be specified" in line:
            continue
        line = re.sub(r"^\[[^\]]*\]\s*", "", line)
        line = re.sub(r"^Error opening input(?: files?)?(?: [^:]*)?:\s*", "", line)
        if line and not line.startswith("Error opening input file"):
            return one_line(line)
    return "ffmpeg could not read it"


def _header(path):
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", path],
        capture_output=True,
        text=True,
        errors="replace",
    )
    return result.stderr


def probe(path):
    """`VideoInfo` of `path`; `VideoError` if it is not a video ffmpeg can read."""
    name = images.check_file(path, VideoError, what="a video file")
    text = _header(name)
    streams = re.findall(r"Stream #\d+:\d+[^:]*: (Video|Audio): ([^\n]*)", text)
    video = [desc for kind, desc in streams if kind == "Video" and "attached pic" not in desc]
    if not streams:
        raise VideoError(f"{name}: not a readable video ({_reason(text)})")
    if not video:
        raise VideoError(f"{name}: has no video stream (only audio or data)")
    size = re.search(r"\b(\d{1,5})x(\d{1,5})\b", video[0])
    rate = re.search(r"([\d.]+)(k?) (?:fps|tbr)\b", video[0])
    if not size or not rate:
        raise VideoError(f"{name}: the video stream has no size or frame rate ({video[0][:80]})")
    fps = float(rate.group(1)) * (1000 if rate.group(2) else 1)
    if not fps > 0:
        raise VideoError(f"{name}: the video stream has no frame rate")
    width, height = int(size.group(1)), int(size.group(2))
    if re.search(r"rotation of -?(90|270)\.\d+ degrees", text):
        width, height = height, width  # ffmpeg turns such frames upright.
    audio = [desc for kind, desc in streams if kind == "Audio"]
    audio_codec = audio[0].split()[0].rstrip(",") if audio else None
    num_frames, duration = _count_frames(name, fps)
    if num_frames == 0:
        raise VideoError(f"{name}: the video stream has no frames")
    # A rate from "fps" is the stream's average; "tbr" alone is only a time
    # base, and a GIF's frames each have their own delay: neither predicts
    # the frame count.
    header = _header_seconds(text)
    if header and re.search(r"[\d.]+k? fps\b", video[0]) and not name.lower().endswith(".gif"):
        _check_complete(name, num_frames, fps, header)
    return VideoInfo(name, width, height, fps, num_frames, duration, audio_codec)


# Frames a complete stream may lack against its header's duration x fps
# (rounding, a last frame shorter than the others, an audio track a little
# longer than the video): this share of them, and at least this many.
MISSING_FRAMES_SHARE = 0.1
MISSING_FRAMES_MIN = 2
_SALVAGE = "re-encode what decodes first (ffmpeg -i IN -c:v libx264 OUT.mp4) to use that part"


def _header_seconds(text):
    """The container's duration from ffmpeg's header text; None where it has none."""
    found = re.search(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)", text)
    if not found:
        return None
    hours, minutes, seconds = found.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _check_complete(name, count, fps, seconds):
    """Refuses a stream that holds clearly fewer frames than its header promises."""
    expected = int(round(seconds * fps))
    if count < expected - max(MISSING_FRAMES_MIN, MISSING_FRAMES_SHARE * expected):
        raise VideoError(
            f"{name}: truncated video: its header says {seconds:.2f} s at {fps:g} fps "
            f"(about {expected} frames) but only {count} frames decode; {_SALVAGE}"
        )


def _ffmpeg_errors(stderr):
    """The error lines of ffmpeg's `-v error` output, without their [component] prefixes."""
    errors = []
    for line in stderr.replace("\r", "\n").splitlines():
        line = line.strip()
        if not line or line.startswith(("frame=", "Last message repeated")):
            continue
        while re.match(r"^\[[^\]]*\]\s*", line):
            line = re.sub(r"^\[[^\]]*\]\s*", "", line)
        if line:
            errors.append(one_line(line))
    return errors


def _count_frames(path, fps):
    """(frames, seconds) of the first video stream, from decoding all of it.

    Decoding (to nothing) costs a small part of stylizing the same frames,
    and it is what finds a damaged or cut file before the model loads: the
    demuxer says "partial file" or "File ended prematurely", the decoder
    names the broken frames. ffmpeg itself exits with 0 on both.
    """
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-stats", "-i", path]
        + ["-map", "0:v:0", "-f", "null", "-"],
        capture_output=True,
        text=True,
        errors="replace",
    )
    frames = re.findall(r"frame=\s*(\d+)", result.stderr)
    if result.returncode != 0 or not frames:
        raise VideoError(f"{path}: not a readable video ({_reason(result.stderr)})")
    count = int(frames[-1])
    errors = _ffmpeg_errors(result.stderr)
    if errors:
        more = len(errors) - 1
        more = f", and {more} more error{'s' if more > 1 else ''}" if more else ""
        raise VideoError(
            f"{path}: damaged or truncated video: ffmpeg says {errors[0]!r}{more} "
            f"({count} frames decode); {_SALVAGE}"
        )
    return count, count / fps


def frame_rate_text(fps):
    """`fps` as ffmpeg's exact rational where it is an NTSC rate (29.97 -> 30000/1001)."""
    ntsc = round(fps * 1.001)
    if abs(fps - ntsc / 1.001) < 0.006 and abs(fps - ntsc) > 0.006:
        return f"{ntsc * 1000}/1001"
    return str(fractions.Fraction(fps).limit_denominator(1000))


def read_frames(info):
    """Yields the frames of `info.path` as uint8 (H, W, 3) arrays, one at a time.

    A file that stops decoding part way raises `VideoError` naming the frame.
    """
    import imageio_ffmpeg

    ffmpeg_exe()
    reader = imageio_ffmpeg.read_frames(info.path, pix_fmt="rgb24")
    count = 0
    try:
        try:
            meta = next(reader)
        except (OSError, RuntimeError, StopIteration) as error:
            raise VideoError(f"{info.path}: cannot decode ({_reason(str(error))})") from None
        width, height = meta["size"]
        while True:
            try:
                data = next(reader)
            except StopIteration:
                break
            except (OSError, RuntimeError) as error:
                raise VideoError(
                    f"{info.path}: decoding failed after frame {count} ({_reason(str(error))})"
                ) from None
            count += 1
            yield np.frombuffer(data, np.uint8).reshape(height, width, 3)
    finally:
        reader.close()


def output_size(width, height, ext):
    """The size a (width, height) video is written at: even for yuv420p codecs."""
    if ext == ".gif":
        return width, height
    return width + width % 2, height + height % 2


class VideoWriter:
    """Encodes RGB frames into `path` with ffmpeg, as they arrive.

    `audio_from`, a `VideoInfo` with audio, has its first audio track muxed
    in: copied where the container takes its codec, re-encoded otherwise
    (`audio_action` says which). GIF has no sound. Odd sizes are padded by
    repeating the last row or column, since H.264 and VP9 in yuv420p need
    even ones.
    """

    def __init__(self, path, width, height, fps, ext, audio_from=None):
        self.path = path
        self.ext = ext
        self.size = (width, height)
        self.out_size = output_size(width, height, ext)
        self.audio_action = None
        command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
        command += ["-f", "rawvideo", "-pix_fmt", "rgb24"]
        command += ["-s", f"{self.out_size[0]}x{self.out_size[1]}"]
        command += ["-framerate", frame_rate_text(fps), "-i", "-"]
        if audio_from is not None and audio_from.has_audio and ext in _AUDIO_COPY:
            command += ["-i", audio_from.path, "-map", "0:v:0", "-map", "1:a:0"]
            if audio_from.audio_codec in _AUDIO_COPY[ext]:
                command += ["-c:a", "copy"]
                self.audio_action = f"audio copied ({audio_from.audio_codec})"
            else:
                command += _AUDIO_ENCODE[ext]
                self.audio_action = (
                    f"audio re-encoded ({audio_from.audio_codec} -> {_AUDIO_ENCODE[ext][1]}; "
                    f"{ext} cannot hold {audio_from.audio_codec})"
                )
        elif audio_from is not None and audio_from.has_audio:
            self.audio_action = f"no audio ({ext} has none)"
        command += _VIDEO_CODEC[ext] + [path]
        self._stderr = tempfile.TemporaryFile()
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            # Ctrl-C reaches this command, which then stops ffmpeg itself;
            # ffmpeg would otherwise finish the file on its own signal.
            start_new_session=True,
        )
        self.frames = 0

    def _failure(self):
        self._process.wait()
        self._stderr.seek(0)
        reason = _reason(self._stderr.read().decode("utf-8", "replace"))
        return VideoError(f"{self.path}: ffmpeg could not write the video ({reason})")

    def write(self, frame):
        """Appends one uint8 (H, W, 3) frame of the writer's size."""
        frame = np.asarray(frame, np.uint8)
        width, height = self.size
        if frame.shape != (height, width, 3):
            raise ValueError(f"frame of shape {frame.shape}, expected {(height, width, 3)}")
        pad_w, pad_h = self.out_size[0] - width, self.out_size[1] - height
        if pad_w or pad_h:
            frame = np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        try:
            self._process.stdin.write(np.ascontiguousarray(frame).tobytes())
        except (BrokenPipeError, OSError):
            raise self._failure() from None
        self.frames += 1

    def close(self):
        """Finishes the file; `VideoError` if ffmpeg failed."""
        try:
            self._process.stdin.close()
        except OSError:
            pass
        if self._process.wait() != 0:
            raise self._failure()
        self._stderr.close()

    def abort(self):
        """Stops ffmpeg without finishing the file (the caller removes it)."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        try:
            self._process.stdin.close()
        except OSError:
            pass
        self._stderr.close()
