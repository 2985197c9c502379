"""Video content in stylize: streams, sound, alpha over time, errors, clean-up.

Clips are made here with the bundled ffmpeg's test sources (32x24 pixels,
a dozen frames, a sine tone); the model is test_stylize's tiny random one.
"""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("imageio_ffmpeg")

from harness import REPO, STYLE_LAYERS  # noqa: E402

from adjustable_style import model_files  # noqa: E402
from adjustable_style.alpha_vectors import AlphaError  # noqa: E402
from adjustable_style.errors import UsageError  # noqa: E402
from adjustable_style.stylize import keyframes as alpha_keyframes  # noqa: E402
from adjustable_style.stylize import pictures as stylize_lib  # noqa: E402
from adjustable_style.stylize import temporal  # noqa: E402
from adjustable_style.stylize import video as stylize_video  # noqa: E402
from adjustable_style.stylize import video_files as video  # noqa: E402
from adjustable_style.stylize.options import Options  # noqa: E402


def make_clip(path, size="32x24", rate=12, seconds=1.0, audio="aac", extra=()):
    """A test-pattern clip with a sine tone (or none when audio is None)."""
    command = [video.ffmpeg_exe(), "-v", "error", "-nostdin", "-y"]
    # testsrc (RGB) keeps odd sizes, which testsrc2 (YUV 4:2:0) rounds down.
    command += ["-f", "lavfi", "-i", f"testsrc=size={size}:rate={rate}:duration={seconds}"]
    if audio:
        command += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=8000:duration={seconds}"]
        command += ["-c:a", audio]
    if str(path).endswith(".gif"):
        command += ["-f", "gif"]
    elif str(path).endswith(".mkv"):
        command += ["-c:v", "ffv1"]
    else:
        command += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    subprocess.run(command + list(extra) + [str(path)], check=True)
    return str(path)


def decode(path):
    info = video.probe(str(path))
    frames = np.stack(list(video.read_frames(info))).astype(np.float32) / 255.0
    return info, frames


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("video")


@pytest.fixture(scope="module")
def model(adjustable_model):
    return adjustable_model


@pytest.fixture(scope="module")
def clip(folder):
    return make_clip(folder / "clip.mp4")


def run(content, output, model, **flags):
    lines = []
    results = stylize_lib.run(
        Options(content=content, output=str(output), **flags), lines.append, model
    )
    return results[0], lines


# -- Keyframes --------------------------------------------------------------


@pytest.mark.parametrize(
    "text, needle",
    [
        ("0:1,0,0;4", "has no ':'"),
        ("0:1,0,0;x:1", "is not a number of seconds"),
        ("0:1,0,0;fx:1", "is not f followed by a whole number"),
        ("-1:1", "must be >= 0"),
        ("inf:1", "must be a finite number of seconds"),
        ("nan:1", "must be a finite number of seconds"),
        ("f１:1", "is not f followed by a whole number"),
        ("f²:1", "is not f followed by a whole number"),
        ("１:1", "is not a number of seconds"),
        ("f1000001:1", "past the longest video (1000000 frames)"),
        ("86401:1", "past the longest video (86400 seconds)"),
        (";".join(f"f{k}:1" for k in range(10_001)), "10001 entries, over the limit of 10000"),
        ("0:1,2,0", "outside [0, 1]"),
        ("0:1,a,0", "is not a number"),
        ("0:1;4:0;2:1", "is not after '4:0'"),
        ("f10:1;f10:0", "is not after 'f10:1'"),
        ("0:", "has no alpha"),
        ("0:1;;4:0", "empty entry at position 2"),
        ("", "is empty"),
    ],
)
def test_bad_keyframe_text_is_one_line(text, needle):
    with pytest.raises(AlphaError) as error:
        alpha_keyframes.parse_keyframes(text)
    assert needle in str(error.value) and "\n" not in str(error.value)


def test_keyframes_checked_against_layers_and_fps():
    with pytest.raises(AlphaError, match="has 2 values but the model has 3"):
        alpha_keyframes.KeyframeSchedule(
            alpha_keyframes.parse_keyframes("0:1,0;1:1"), STYLE_LAYERS, 12
        )
    # f12 is second 1 at 12 fps: not after second 1.
    with pytest.raises(AlphaError, match="is not after '1:0'"):
        alpha_keyframes.KeyframeSchedule(
            alpha_keyframes.parse_keyframes("1:0;f12:1"), STYLE_LAYERS, 12
        )


def test_keyframes_interpolate_smoothly_and_hold():
    keys = alpha_keyframes.parse_keyframes("0.5:1,0,0;f24:0,0,1;4:1")
    schedule = alpha_keyframes.KeyframeSchedule(keys, STYLE_LAYERS, 12)
    path = schedule(np.arange(72))
    np.testing.assert_array_equal(path[:7], np.tile([1, 0, 0], (7, 1)))  # held before 0.5 s
    np.testing.assert_allclose(path[24], [0, 0, 1])
    np.testing.assert_allclose(path[48:], np.ones((24, 3)))  # held after 4 s
    assert path.min() >= 0 and path.max() <= 1
    # Layer 0 goes 1 -> 0 -> 1: monotone on each piece, no overshoot.
    assert np.all(np.diff(path[6:25, 0]) <= 1e-7) and np.all(np.diff(path[24:49, 0]) >= -1e-7)
    # Smooth: no step is large, and the steps change gradually (no kinks).
    steps = np.diff(path, axis=0)
    assert np.abs(steps).max() < 0.1
    assert np.abs(np.diff(steps, axis=0)).max() < 0.02


# -- Round trips ------------------------------------------------------------


def test_mp4_keeps_frames_fps_size_and_copies_audio(clip, model, folder):
    out = folder / "keyframed.mp4"
    result, lines = run(clip, out, model, alpha_keyframes="0:1,0,0;f11:0,0,1")
    info, frames = decode(out)
    source, inputs = decode(clip)
    assert (info.num_frames, info.fps, info.width, info.height) == (12, 12.0, 32, 24)
    assert len(frames) == 12 and frames.shape[1:] == (24, 32, 3)
    assert info.audio_codec == "aac" and "audio copied (aac)" in lines[0]
    assert abs(info.duration - 1.0) < 0.05
    # The first frame is made at the first keyframe's alpha, the last at the last's.
    first = model.stylize(inputs[:1], [[1, 0, 0]])[0]
    other = model.stylize(inputs[:1], [[0, 0, 1]])[0]
    assert np.abs(frames[0] - first).mean() < 0.5 * np.abs(frames[0] - other).mean()
    last = model.stylize(inputs[-1:], [[0, 0, 1]])[0]
    assert np.abs(frames[-1] - last).mean() < 0.03
    assert os.stat(out).st_mode & 0o777 == 0o666 & ~model_files.current_umask()
    assert not [n for n in os.listdir(folder) if n.startswith(".stylize-partial")]


def test_lambda_runs_once_per_distinct_alpha(clip, model, folder, monkeypatch):
    fast = model._forward
    fast._cache.clear()
    calls = []
    network = fast._alpha_network
    monkeypatch.setattr(fast, "_alpha_network", lambda a: calls.append(len(a)) or network(a))
    run(clip, folder / "constant.mp4", model, alpha="0.3,0.6,0.9", batch_size=5)
    assert calls == [1]


def test_odd_sizes_max_size_webm_and_gif(folder, model):
    odd = make_clip(folder / "odd.mkv", size="33x25", audio="aac")
    _, lines = run(odd, folder / "odd.mp4", model)
    info, _ = decode(folder / "odd.mp4")
    assert (info.width, info.height) == (34, 26)  # one repeated row and column
    _, lines = run(odd, folder / "small.webm", model, max_size=16, alpha_walk=True, seed=3)
    info, _ = decode(folder / "small.webm")
    assert (info.width, info.height, info.num_frames) == (16, 12, 12)
    assert info.audio_codec == "opus" and "re-encoded (aac -> libopus" in lines[0]
    assert "--alpha_walk --seed=3" in lines[0]
    gif = make_clip(folder / "anim.gif", audio=None)
    _, lines = run(gif, folder / "from_gif.gif", model)
    info, frames = decode(folder / "from_gif.gif")
    assert (info.width, info.height, len(frames)) == (32, 24, 12)
    assert "no audio in the source" in lines[0]


def test_alpha_walk_moves_and_is_reproducible(model):
    info = video.VideoInfo("x.mp4", 32, 24, 12.0, 60, 5.0)
    options = Options(content="x.mp4", output="y.mp4", alpha_walk=True, seed=5)
    schedule, _ = stylize_video.alpha_schedule(model, options, info, 5)
    path = schedule(np.arange(62))
    again, _ = stylize_video.alpha_schedule(model, options, info, 5)
    np.testing.assert_array_equal(path, again(np.arange(62)))
    assert np.ptp(path, axis=0).min() > 0.1  # every layer moves
    np.testing.assert_array_equal(path[60], path[59])  # held past the counted frames


def test_content_noise_depth_on_a_video(clip, model, folder):
    outputs = {}
    for depth in (0.2, 1.0):
        out = folder / f"noise_{depth}.mp4"
        _, lines = run(clip, out, model, content_noise=True, seed=4, noise_depth=depth)
        assert f"--content_noise --seed=4 --noise_depth={depth:g}" in lines[0]
        outputs[depth] = decode(out)[1]
    # One mask for the clip, as deep as asked: the first mask's black dips
    # change the frames more than the shallow one's.
    plain = decode(clip)[1]
    shallow = np.abs(outputs[0.2][0] - model.stylize(plain[:1], [[1, 1, 1]])[0]).max()
    deep = np.abs(outputs[1.0][0] - model.stylize(plain[:1], [[1, 1, 1]])[0]).max()
    assert deep > shallow


def test_progress_line():
    progress = stylize_video.Progress(12)
    assert progress.line(6, progress.start + 3.0) == "frame 6/12 (50%)  2.0 fps  0:03 left"


# -- Flicker reduction ------------------------------------------------------


def test_smoothed_norm_at_zero_momentum_is_the_fast_path_and_smooths_otherwise(clip, model):
    _, frames = decode(clip)
    alpha = np.array([0.2, 0.7, 0.4], np.float32)
    fast = lambda frame: model.stylize(frame, alpha)[0]  # noqa: E731
    smoothed = temporal.SmoothedNormStylizer(model._forward, 0.0)
    for frame in frames[:2]:
        np.testing.assert_allclose(smoothed.step(frame, alpha), fast(frame), atol=2e-5)
    smoothed.momentum = 0.9
    smoothed.reset()  # The first frame after a reset has no history to mix in.
    np.testing.assert_allclose(smoothed.step(frames[0], alpha), fast(frames[0]), atol=2e-5)
    assert np.abs(smoothed.step(frames[5], alpha) - fast(frames[5])).mean() > 1e-3


def test_hold_still_keeps_unchanged_regions():
    hold = temporal.StillHold(0.05)
    rng = np.random.default_rng(0)
    content = rng.random((24, 32, 3)).astype(np.float32)
    first = hold(content, np.zeros((24, 32, 3), np.float32))
    moved = content.copy()
    moved[:, 20:] = 1 - moved[:, 20:]  # the right part changes a lot
    second = hold(moved, np.ones((24, 32, 3), np.float32))
    assert first.max() == 0
    np.testing.assert_array_equal(second[:, :14], 0)  # unchanged: the old output
    np.testing.assert_array_equal(second[:, 24:], 1)  # changed: the new output


# -- Errors and clean-up ----------------------------------------------------


@pytest.fixture(scope="module")
def bad_videos(folder, clip):
    corrupt = folder / "corrupt.mp4"
    corrupt.write_bytes(open(clip, "rb").read()[:2000])
    no_video = folder / "no_video.mp4"
    subprocess.run(
        [video.ffmpeg_exe(), "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i"]
        + ["sine=duration=0.5", str(no_video)],
        check=True,
    )
    # A clip whose header says 3 s and 24 frames, cut at 60% (its index is
    # first, so what is left still opens), and the same with bytes garbled.
    whole = make_clip(folder / "whole.mp4", rate=8, seconds=3, extra=["-movflags", "+faststart"])
    data = open(whole, "rb").read()
    truncated = folder / "truncated.mp4"
    truncated.write_bytes(data[: int(len(data) * 0.6)])
    garbled = bytearray(data)
    rng = np.random.default_rng(1)
    for at in rng.integers(len(data) // 3, len(data), 40):
        garbled[at] = rng.integers(256)
    (folder / "garbled.mp4").write_bytes(bytes(garbled))
    return {
        "corrupt": str(corrupt),
        "no_video": str(no_video),
        "truncated": str(truncated),
        "garbled": str(folder / "garbled.mp4"),
    }


@pytest.mark.parametrize(
    "kind, flags, error, needle",
    [
        ("corrupt", {}, video.VideoError, "not a readable video"),
        ("no_video", {}, video.VideoError, "has no video stream"),
        ("truncated", {}, video.VideoError, "damaged or truncated video: ffmpeg says"),
        ("garbled", {}, video.VideoError, "damaged or truncated video: ffmpeg says"),
        ("clip", {"alpha_keyframes": "0:1,0"}, AlphaError, "has 2 values"),
        ("clip", {"alpha_keyframes": "0:1", "alpha": "1"}, UsageError, "drop --alpha"),
        ("clip", {"alpha_walk": True, "random_alpha": True}, UsageError, "choose one"),
        ("clip", {"animate": True}, UsageError, "does not apply to a video"),
        ("clip", {"hold_still": 2.0}, UsageError, "--hold_still must be in"),
        ("image", {"alpha_walk": True}, UsageError, "needs a video --content"),
    ],
)
def test_bad_video_input_is_one_line_and_writes_nothing(
    kind, flags, error, needle, bad_videos, clip, model, tmp_path
):
    content = {"clip": clip, "image": os.path.join(REPO, "adjustable_style/examples/chelsea.png")}
    content = content.get(kind) or bad_videos[kind]
    with pytest.raises(error) as raised:
        run(content, tmp_path / "out.mp4", model, **flags)
    assert needle in str(raised.value) and "\n" not in str(raised.value)
    assert os.listdir(tmp_path) == []


def test_fewer_frames_than_the_header_says_is_refused():
    video._check_complete("clip.mp4", 22, 8.0, 3.0)  # 24 expected: a frame or two short is fine
    with pytest.raises(video.VideoError) as error:
        video._check_complete("clip.mp4", 14, 8.0, 3.0)
    assert "header says 3.00 s at 8 fps (about 24 frames) but only 14 frames decode" in str(
        error.value
    )


def test_a_killed_runs_partial_file_is_removed_by_the_next_run(clip, model, tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", ""])
    dead.wait()  # a process id that no longer runs
    left = tmp_path / f".out.partial-{dead.pid}-ab_cd123.mp4"
    left.write_bytes(b"half a video")
    old_style = tmp_path / ".out.partial-zz_yy987.mp4"  # no id: nobody holds it open
    old_style.write_bytes(b"half a video")
    running = tmp_path / f".out.partial-{os.getpid()}-ab_cd124.mp4"  # a live run's
    running.write_bytes(b"being written")
    mine = [tmp_path / ".out.partial-notes.mp4", tmp_path / ".other.partial-ab_cd125.mp4"]
    for path in mine:
        path.write_bytes(b"mine")
    _, lines = run(clip, tmp_path / "out.mp4", model)
    assert len(lines) == 2 and lines[0].startswith("Removed what an interrupted run left")
    assert left.name in lines[0] and old_style.name in lines[0]
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["out.mp4", running.name] + [path.name for path in mine]
    )


def test_an_existing_output_video_is_refused_unless_overwrite(clip, model, tmp_path):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"an earlier video")
    with pytest.raises(stylize_video.images.ImageError, match="already exists; pass --overwrite"):
        run(clip, out, model)
    assert out.read_bytes() == b"an earlier video"
    run(clip, out, model, overwrite=True)
    assert video.probe(str(out)).num_frames == 12
    assert os.listdir(tmp_path) == ["out.mp4"]


def test_without_the_extra_the_error_names_it(clip, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)
    with pytest.raises(UsageError, match=r"pip install 'adjustable_style\[video\]'"):
        run(clip, tmp_path / "out.mp4", None)
    assert os.listdir(tmp_path) == []


def test_command_stopped_midway_leaves_nothing(folder, stylizer_files, tmp_path):
    long_clip = make_clip(folder / "long.mp4", size="64x48", rate=10, seconds=120)
    adjustable = stylizer_files["adjustable"]
    env = dict(os.environ, PYTHONPATH=REPO)
    out = tmp_path / "out"
    out.mkdir()
    process = subprocess.Popen(
        [sys.executable, os.path.join(REPO, "stylize.py"), f"--model={adjustable}"]
        + [f"--content={long_clip}", f"--output={out}/long.mp4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.time() + 300
    try:
        # The hidden partial file appears once frames start to flow.
        while not os.listdir(out):
            assert process.poll() is None, process.stderr.read()
            assert time.time() < deadline, "stylize.py did not start"
            time.sleep(0.2)
        time.sleep(1.0)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 143, stderr
    assert stderr.splitlines() == ["stylize.py: terminated"]
    assert os.listdir(out) == []


@pytest.mark.parametrize(
    "kind, needle", [("corrupt", "not a readable video"), ("truncated", "truncated video")]
)
def test_command_corrupt_video_exits_1_before_loading(kind, needle, bad_videos, tmp_path):
    result = subprocess.run(
        [sys.executable, os.path.join(REPO, "stylize.py")]
        + [f"--content={bad_videos[kind]}", f"--output={tmp_path}/o.mp4"],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=REPO),
        timeout=120,
    )
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and needle in lines[0], result.stderr
    assert os.listdir(tmp_path) == []


def test_a_clip_past_the_frame_limit_or_the_memory_is_refused_first(monkeypatch):
    from adjustable_style import limits

    options = Options(content="long.mp4", output="out.gif")
    info = video.VideoInfo("long.mp4", 64, 48, 30.0, 1_000_001, 33_333.4)
    with pytest.raises(video.VideoError, match="1000001 frames, over the limit of 1000000"):
        stylize_video.check_size(info, options, ".mp4")
    # A GIF keeps every frame until its palette is made.
    info = video.VideoInfo("long.mp4", 640, 480, 30.0, 9_000, 300.0)
    monkeypatch.setattr(limits, "available_memory", lambda: 10**9)
    stylize_video.check_size(info, options, ".mp4")
    with pytest.raises(UsageError) as error:
        stylize_video.check_size(info, options, ".gif")
    assert str(error.value) == (
        "long.mp4: stylizing it at 640x480 into a GIF of 9000 frames needs at least 8.66 GB "
        "of memory; this machine has 1 GB free"
    )
