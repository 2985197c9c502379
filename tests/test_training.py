"""train.py end to end: model files, resume after kill -9, bad data, TFDS,
and the mirrored and multi-worker strategies. Tiny images, random VGG."""

import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import harness
import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from adjustable_style import model_files
from adjustable_style.errors import UsageError
from adjustable_style.model import networks
from adjustable_style.training import config as train_config
from adjustable_style.training import run_common as training_run
from adjustable_style.training import run_tf as training

REPO, TRAIN, ENV = harness.REPO, harness.TRAIN, harness.COMMAND_ENV


@pytest.fixture(scope="module")
def folders(training_folders):
    return training_folders


_photo = harness.write_photo
_flags = harness.train_flags


def _run(args, **kwargs):
    return subprocess.run(
        [sys.executable, TRAIN, *args],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
        **kwargs,
    )


# train.py's flags run in this process (`commands.train.main`): where a test
# is about what the run does, not about the command's own process.
_train = harness.run_train_in_process


def _config(content, style, model_dir, **extra):
    values = dict(
        style_image=str(style),
        content_images=None if content is None else str(content),
        model_dir=str(model_dir),
        vgg_weights="random",
        image_size=32,
        batch_size=2,
        train_steps=4,
        save_every=2,
        log_every=2,
        verbose=0,
    )
    values.update(extra)
    return train_config.TrainConfig(**values)


@pytest.fixture(scope="module")
def four_step_run(folders, tmp_path_factory):
    """(what `train` answered, the folder) of a four-step run; tests that
    resume it copy it first."""
    content, style = folders
    run = tmp_path_factory.mktemp("four_steps") / "run"
    return training.train(_config(content, style, run)), run


def test_train_writes_a_model_that_loads_and_stylizes(four_step_run):
    path, run = four_step_run
    assert path == str(run / "model.keras")
    model, record = model_files.load_stylizer(str(run))
    assert record["steps"] == 4 and record["image_size"] == 32
    assert record["loss_network"] == "vgg19" and record["vgg_weights"] == "random"
    assert record["style_layers"] == ["block2_conv2", "block3_conv4", "block4_conv4"]
    assert record["style_image"] == "style.jpg"
    assert record["conv_initializer"] == "normal_0.01"
    assert np.isfinite(record["final_losses"]["loss"])
    out = model([np.random.rand(1, 21, 19, 3).astype(np.float32), np.full((1, 3), 0.5, np.float32)])
    assert out.shape == (1, 21, 19, 3)
    # TensorBoard scalars and preview images were written.
    events = os.listdir(run / "logs" / "train")
    assert events and all(e.startswith("events.out") for e in events)


def test_a_resumed_run_records_each_segment(folders, four_step_run, tmp_path):
    content, style = folders
    shutil.copytree(four_step_run[1], tmp_path / "run")
    training.train(
        _config(content, style, tmp_path / "run", train_steps=6, alpha_edge_probability=0.5)
    )
    record = model_files.read_record(str(tmp_path / "run" / "model.keras"))
    assert record["steps"] == 6 and record["alpha_edge_probability"] == 0.5
    segments = [
        (h["first_step"], h["last_step"], h["alpha_edge_probability"]) for h in record["history"]
    ]
    assert segments == [(0, 4, 0.0), (4, 6, 0.5)]


def _checkpoint_state(model_dir):
    reader = tf.train.load_checkpoint(str(model_dir / "checkpoints"))
    return {
        "step": int(reader.get_tensor("optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE")),
        "ema": reader.get_tensor("model/normalizer/ema/.ATTRIBUTES/VARIABLE_VALUE"),
        "count": int(reader.get_tensor("model/normalizer/count/.ATTRIBUTES/VARIABLE_VALUE")),
    }


def test_resuming_with_ema_decay_one_freezes_the_restored_emas(folders, four_step_run, tmp_path):
    content, style = folders
    run = tmp_path / "run"
    shutil.copytree(four_step_run[1], run)
    before = _checkpoint_state(run)
    training.train(_config(content, style, run, train_steps=7, ema_decay=1.0, content_weight=0.5))
    after = _checkpoint_state(run)
    assert after["step"] == 7 and after["count"] == before["count"] + 3
    np.testing.assert_array_equal(after["ema"], before["ema"])
    last = model_files.read_record(str(run / "model.keras"))["history"][-1]
    assert (last["ema_decay"], last["content_weight"]) == (1.0, 0.5)


def test_loss_ema_from_gives_runs_one_objective(folders, tmp_path):
    content, style = folders
    source = tmp_path / "adjustable"
    training.train(_config(content, style, source, train_steps=3))
    emas = model_files.read_record(str(source / "model.keras"))["ema"]
    # A base model from scratch, its EMAs set from the adjustable run and frozen.
    base = tmp_path / "base"
    config = dict(model_type="base", style_weights=[1.0, 0.0, 0.0], ema_decay=1.0, train_steps=2)
    training.train(_config(content, style, base, loss_ema_from=str(source), **config))
    np.testing.assert_array_equal(_checkpoint_state(base)["ema"], np.float32(emas))
    record = model_files.read_record(str(base / "model.keras"))
    assert record["loss_ema_from"]["ema"] == pytest.approx(emas)
    assert record["loss_ema_from"]["model"] == str(source)
    np.testing.assert_array_equal(np.float32(record["ema"]), np.float32(emas))
    # Resumed, it keeps them and says where they came from.
    training.train(
        _config(content, style, base, loss_ema_from=str(source), **{**config, "train_steps": 3})
    )
    again = model_files.read_record(str(base / "model.keras"))
    assert again["steps"] == 3 and again["loss_ema_from"] == record["loss_ema_from"]
    np.testing.assert_array_equal(np.float32(again["ema"]), np.float32(emas))
    # Without the flag the first batch sets them: other numbers.
    fresh = tmp_path / "fresh"
    training.train(_config(content, style, fresh, **config))
    assert not np.allclose(_checkpoint_state(fresh)["ema"], emas)
    assert "loss_ema_from" not in model_files.read_record(str(fresh / "model.keras"))
    # EMAs of another style's losses are refused, in one line.
    other = tmp_path / "other_style.png"
    _photo(other, 7, size=(64, 64))
    with pytest.raises(training_run.TrainingError, match="another style image") as error:
        training.train(
            _config(content, other, tmp_path / "other", loss_ema_from=str(source), **config)
        )
    assert "\n" not in str(error.value)
    assert not (tmp_path / "other").exists()
    with pytest.raises(model_files.ModelFileError):
        _config(content, style, tmp_path / "x", loss_ema_from=str(tmp_path / "none")).validate()


def test_a_killed_run_resumes_from_its_last_checkpoint(folders, tmp_path, capfd):
    content, style = folders
    model_dir = tmp_path / "run"
    args = _flags(content, style, model_dir, train_steps=100000, save_every=3)
    process = subprocess.Popen(
        [sys.executable, TRAIN, *args], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.time() + 240
    try:
        while not (model_dir / "checkpoints" / "ckpt-6.index").exists():
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
            assert time.time() < deadline, "no checkpoint within 240 s"
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGKILL)  # no chance to clean up
        process.wait()
    saved = _checkpoint_state(model_dir)
    assert saved["step"] >= 6 and saved["step"] % 3 == 0
    assert saved["count"] == saved["step"]  # one EMA update per step
    # The model and its record are written at every save.
    killed = model_files.read_record(str(model_dir / "model.keras"))
    assert killed["steps"] in (saved["step"], saved["step"] - 3)
    # The killed run's lock is still there, and no longer held.
    assert json.loads((model_dir / "train.lock").read_text())["pid"] == process.pid

    # Rerun with the saved step as the target: nothing to train, so the
    # record shows exactly the state that was restored.
    result = _train(_flags(content, style, model_dir, train_steps=saved["step"]), capfd)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"Taking over the lock of PID {process.pid}" in result.stdout
    assert not (model_dir / "train.lock").exists()
    assert f"Resuming at step {saved['step']}" in result.stdout
    record = model_files.read_record(str(model_dir / "model.keras"))
    assert record["steps"] == saved["step"]
    np.testing.assert_array_equal(np.float32(record["ema"]), saved["ema"])

    # And it goes on from there.
    result = _train(_flags(content, style, model_dir, train_steps=saved["step"] + 2), capfd)
    assert result.returncode == 0, result.stderr[-2000:]
    assert _checkpoint_state(model_dir)["step"] == saved["step"] + 2


def test_bad_files_are_skipped_and_counted(folders, tmp_path, capfd):
    _, style = folders
    content = tmp_path / "mixed"
    content.mkdir()
    (content / "empty.jpg").write_bytes(b"")
    (content / "notes.jpg").write_text("not an image")
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(
        buffer, format="JPEG"
    )
    (content / "cut.jpg").write_bytes(buffer.getvalue()[:300])
    Image.fromarray(np.full((40, 40), 40000, np.uint16)).save(content / "deep.png")
    _photo(content / "gray.png", 1, mode="L")
    _photo(content / "rgba.png", 2, mode="RGBA")
    result = _train(_flags(content, style, tmp_path / "run", train_steps=6), capfd)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Skipped 3 undecodable content files" in result.stdout
    assert (
        model_files.read_record(str(tmp_path / "run" / "model.keras"))["skipped_content_files"] == 3
    )


@pytest.mark.parametrize(
    "change,message",
    [
        (dict(style_image="missing.jpg"), "style image does not exist"),
        (dict(content_images="EMPTY"), "no image files found"),
        (dict(model_type="base"), "needs --style_weights"),
        (
            dict(model_type="base", style_weights="1,0.5"),
            "--style_weights has 2 values but there are 3 style layers",
        ),
        (dict(vgg_weights="nowhere.h5"), "does not exist"),
        (dict(vgg_weights="other.weights.h5"), "(e.g. Layer"),
        (dict(ema_decay=1.5), "--ema_decay must be in [0, 1]"),
        (dict(ema_decay=-0.5), "--ema_decay must be in [0, 1]"),
        (dict(image_size=0), "--image_size must be at least 16"),
        (dict(image_size=3), "--image_size must be at least 16"),
        (dict(model_dir="a_file"), "is a file, not a folder"),
        (dict(model_dir="a_file/run"), "cannot write there"),
        (dict(model_dir="/proc/run"), "--model_dir=/proc/run: cannot write there"),
        (dict(style_image="EMPTY"), "EMPTY: is a folder; --style_image takes one image file"),
        # Bounds, asked one past (nothing is allocated).
        (dict(image_size=8001), "--image_size must be in 16..8000"),
        (dict(style_image_size=8001), "--style_image_size must be in 16..8000"),
        (dict(batch_size=1025), "--batch_size must be in 1..1024"),
        (dict(train_steps=10**8 + 1), "--train_steps must be in 1..100000000"),
        # One seed range, stylize.py's too.
        (dict(seed=-1), "--seed must be in 0..4294967295, got -1"),
        (dict(seed=2**32), "--seed must be in 0..4294967295, got 4294967296"),
        (dict(strategy="tpu"), "--strategy=tpu needs --tpu"),
        (dict(init_from="OTHER.keras"), "is a Keras model but not a stylizer"),
    ],
)
def test_bad_setups_exit_with_one_line(folders, tmp_path, capfd, change, message):
    content, style = folders
    (tmp_path / "EMPTY").mkdir()
    harness.write_keras_model_that_is_not_a_stylizer(tmp_path / "OTHER.keras")
    (tmp_path / "a_file").write_text("keep")
    if "vgg_weights" in change and change["vgg_weights"] != "nowhere.h5":
        keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]).save_weights(
            str(tmp_path / change["vgg_weights"])
        )
    change = {
        k: (
            str(tmp_path / v)
            if k in ("style_image", "content_images", "vgg_weights", "init_from")
            or (k == "model_dir" and not v.startswith("/"))
            else v
        )
        for k, v in change.items()
    }
    before = sorted(os.listdir(tmp_path))
    change.setdefault("model_dir", tmp_path / "run")
    # In process: the same command code without a TensorFlow start-up per
    # case; test_a_bad_setup_exits_with_one_line_from_the_real_command runs
    # one through train.py itself.
    result = harness.run_train_in_process(_flags(content, style, **change), capfd)
    assert result.returncode == 1
    stderr = result.stderr
    lines = [l for l in stderr.splitlines() if l.startswith("train.py:")]
    assert len(lines) == 1 and message in lines[0], stderr[-2000:]
    assert "Traceback" not in stderr
    assert sorted(os.listdir(tmp_path)) == before  # No --model_dir made.
    assert (tmp_path / "a_file").read_text() == "keep"


@pytest.mark.parametrize(
    "tf_config, message",
    [
        ("{not json", "TF_CONFIG is not valid JSON"),
        ('{"task": {"type": "worker", "index": 0}}', 'TF_CONFIG needs a "cluster" object'),
        ('{"cluster": {"worker": ["localhost:1"]}, "task": {"type": "chief"}}', '"type"'),
        (
            '{"cluster": {"worker": ["localhost:1"]}, "task": {"type": "worker", "index": 3}}',
            "must be in 0..0",
        ),
    ],
)
def test_a_bad_tf_config_is_one_line(folders, tmp_path, capfd, monkeypatch, tf_config, message):
    content, style = folders
    monkeypatch.setenv("TF_CONFIG", tf_config)
    line = _one_error_line(
        harness.run_train_in_process(
            _flags(content, style, tmp_path / "run", strategy="multi_worker"), capfd
        )
    )
    assert message in line
    assert not (tmp_path / "run").exists()


def test_a_tpu_that_cannot_be_reached_is_one_line(monkeypatch):
    import tensorflow as tf

    def unreachable(tpu=None):
        raise ValueError(f"Could not find a TPU at {tpu!r}\nand more lines")

    monkeypatch.setattr(tf.distribute.cluster_resolver, "TPUClusterResolver", unreachable)
    with pytest.raises(training.TrainingError) as error:
        training.make_strategy("tpu", "local")
    assert str(error.value) == (
        "--strategy=tpu: cannot set up the cluster of --tpu=local (Could not find a TPU at 'local')"
    )


def test_a_batch_that_cannot_fit_in_memory_is_refused_first(folders, tmp_path, monkeypatch):
    from adjustable_style import limits

    content, style = folders
    monkeypatch.setattr(limits, "available_memory", lambda: 10**9)
    config = _config(content, style, tmp_path / "run", image_size=2048, batch_size=8)
    with pytest.raises(UsageError) as error:
        config.validate()
    assert str(error.value) == (
        "training at --batch_size=8 --image_size=2048 needs at least 40.3 GB of memory; "
        "this machine has 1 GB free"
    )
    # The style image at --style_image_size, from its header.
    harness.write_png_header(tmp_path / "huge.png", 8000, 4000)
    config = _config(content, tmp_path / "huge.png", tmp_path / "run", style_image_size=8000)
    with pytest.raises(UsageError, match="the style image at --style_image_size=8000"):
        config.validate()
    assert not (tmp_path / "run").exists()


def test_a_bad_setup_exits_with_one_line_from_the_real_command(folders, tmp_path):
    content, style = folders
    result = _run(_flags(content, tmp_path / "missing.jpg", tmp_path / "run"))
    assert result.returncode == 1
    lines = [l for l in result.stderr.splitlines() if l.startswith("train.py:")]
    assert len(lines) == 1 and "style image does not exist" in lines[0], result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "Warning" not in result.stderr
    assert sorted(os.listdir(tmp_path)) == []


def test_an_unknown_conv_initializer_is_refused_by_the_flag(folders, tmp_path, capfd):
    content, style = folders
    result = _train(_flags(content, style, tmp_path / "run", conv_initializer="zeros"), capfd)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "--conv_initializer=zeros: value should be one of" in result.stderr
    assert not (tmp_path / "run").exists()
    with pytest.raises(UsageError, match="--conv_initializer must be one of"):
        _config(content, style, tmp_path / "run", conv_initializer="zeros").validate()


def _one_error_line(result):
    lines = [l for l in result.stderr.splitlines() if l.startswith("train.py:")]
    assert result.returncode == 1, result.stderr[-2000:]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    return lines[0]


def _files(folder):
    return {
        str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()
    }


@pytest.fixture(scope="module")
def finished_run(folders, tmp_path_factory):
    """A two-step run: tests read it, copy it, or start from it (--init_from);
    none changes it."""
    content, style = folders
    run = tmp_path_factory.mktemp("finished") / "run"
    training.train(_config(content, style, run, train_steps=2))
    return run


@pytest.mark.parametrize(
    "change,message",
    [
        (dict(style_image="other.jpg"), "--style_image: style.jpg (sha256"),
        (
            dict(model_type="base", style_weights="1,1,1"),
            "--model_type: adjustable there, base now",
        ),
        (dict(style_layers="block2_conv2,block3_conv4"), "--style_layers: "),
        (
            dict(
                loss_network="vgg16",
                content_layer="block3_conv3",
                style_layers="block2_conv2,block3_conv3,block4_conv3",
            ),
            "--loss_network: vgg19 there, vgg16 now",
        ),
    ],
)
def test_resuming_another_run_is_refused(folders, finished_run, tmp_path, capfd, change, message):
    content, style = folders
    _photo(tmp_path / "other.jpg", 7, size=(64, 64))
    change = {k: str(tmp_path / v) if k == "style_image" else v for k, v in change.items()}
    before = _files(finished_run)
    flags = _flags(content, style, finished_run, train_steps=4, **change)
    line = _one_error_line(harness.run_train_in_process(flags, capfd))
    assert message in line and f"--init_from={finished_run}" in line
    assert _files(finished_run) == before


def _contents(folder):
    """Every file below `folder`: (bytes, mtime), by relative path."""
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file()
    }


def test_rerunning_a_finished_run_changes_nothing(folders, finished_run, tmp_path, capfd):
    content, style = folders
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    before = _contents(run)
    capfd.readouterr()
    path = training.train(_config(content, style, run, train_steps=2))
    out = capfd.readouterr().out
    assert path == str(run / "model.keras")
    assert f"{run}: already trained to step 2; nothing to do" in out
    assert "Resuming" not in out
    assert _contents(run) == before

    # Fewer steps than were trained: refused in one line, nothing touched.
    line = _one_error_line(
        harness.run_train_in_process(_flags(content, style, run, train_steps=1), capfd)
    )
    assert "--train_steps=1 is below the 2 steps already trained" in line
    assert _contents(run) == before


def test_a_killed_runs_leftovers_are_removed_and_nothing_else(
    folders, finished_run, tmp_path, capfd
):
    content, style = folders
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    before = _contents(run)
    checkpoints = run / "checkpoints"
    (checkpoints / "ckpt-40_temp").mkdir()
    (checkpoints / "ckpt-40_temp" / "part-00000-of-00001.index").write_bytes(b"x")
    (checkpoints / "ckpt-40_temp" / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"x")
    (checkpoints / ".tmp-123-ckpt-4.weights.h5").write_bytes(b"x")
    (run / ".tmp-4321-model.keras").write_bytes(b"x")
    (run / ".tmp-ab_c1234").write_bytes(b"x")  # an atomic write's mkstemp name
    # A user's files that only look alike are kept.
    (checkpoints / "ckpt-41_temp").mkdir()
    (checkpoints / "ckpt-41_temp" / "notes.txt").write_text("mine")
    (run / ".tmp-my-notes.txt").write_text("mine")
    (run / "model.keras.tmp").write_text("mine")
    capfd.readouterr()
    training.train(_config(content, style, run, train_steps=2))
    out = capfd.readouterr().out
    removed = [line for line in out.splitlines() if line.startswith("Removed")]
    assert len(removed) == 1, out
    for name in (".tmp-4321-model.keras", ".tmp-ab_c1234", "ckpt-40_temp", ".tmp-123-ckpt-4"):
        assert name in removed[0]
    after = _contents(run)
    kept = {"checkpoints/ckpt-41_temp/notes.txt", ".tmp-my-notes.txt", "model.keras.tmp"}
    assert set(after) == set(before) | kept
    assert {k: v for k, v in after.items() if k not in kept} == before


def test_steps_left_is_one_rule_for_every_backend(tmp_path):
    config = _config(None, "style.jpg", tmp_path, train_steps=5)
    training_run.check_steps_left(config, {}, None)  # a new run
    training_run.check_steps_left(config, {"steps": 3}, 3)  # resumes
    training_run.check_steps_left(config, {"steps": 3}, 5)  # no model.keras yet: writes it
    (tmp_path / "model.keras").write_bytes(b"")
    with pytest.raises(training_run.AlreadyTrained):
        training_run.check_steps_left(config, {"steps": 5}, 5)
    with pytest.raises(training_run.TrainingError, match="below the 6 steps already trained"):
        training_run.check_steps_left(config, {"steps": 6}, 6)


def test_a_damaged_record_is_refused(folders, finished_run, tmp_path, capfd):
    content, style = folders
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    (run / "model.json").write_text('{"steps": 2, ')
    before = _files(run)
    line = _one_error_line(_train(_flags(content, style, run, train_steps=4), capfd))
    assert "training record is damaged" in line
    assert _files(run) == before


def test_damaged_checkpoints_are_skipped_and_kept(folders, tmp_path, capfd):
    content, style = folders
    run = tmp_path / "run"
    training.train(_config(content, style, run, train_steps=6))
    checkpoints = run / "checkpoints"
    data = checkpoints / "ckpt-6.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:1000])
    (checkpoints / "checkpoint").write_text("not a state file {")
    # A subprocess: the warning goes through absl's log, whose handler writes
    # to the stderr the process started with.
    result = _run(_flags(content, style, run, train_steps=8))
    assert result.returncode == 0, result.stderr[-2000:]
    warnings = [l for l in result.stderr.splitlines() if "skipping damaged" in l]
    assert len(warnings) == 1 and "ckpt-6" in warnings[0], result.stderr[-2000:]
    assert "Resuming at step 4" in result.stdout
    # The damaged checkpoint was moved aside, not overwritten by the new ckpt-6.
    assert (checkpoints / "damaged" / "ckpt-6.data-00000-of-00001").stat().st_size == 1000
    assert _checkpoint_state(run)["step"] == 8
    state = tf.train.get_checkpoint_state(str(checkpoints))
    assert [os.path.basename(p) for p in state.all_model_checkpoint_paths] == [
        "ckpt-4",
        "ckpt-6",
        "ckpt-8",
    ]
    record = model_files.read_record(str(run / "model.keras"))
    assert [(h["first_step"], h["last_step"]) for h in record["history"]] == [(0, 4), (4, 8)]

    # When no checkpoint reads, nothing starts over at step 0 on top of them.
    for index in checkpoints.glob("ckpt-*.index"):
        index.write_bytes(b"garbage")
    before = _files(run)
    line = _one_error_line(_train(_flags(content, style, run, train_steps=10), capfd))
    assert "no checkpoint in" in line and "not starting over" in line
    assert _files(run) == before


def test_two_trainers_and_interrupted_segments(folders, tmp_path, capfd):
    """A second trainer is refused; SIGINT and SIGTERM runs keep their history."""
    content, style = folders
    run = tmp_path / "run"
    args = _flags(content, style, run, train_steps=100000, save_every=1, log_every=1)

    def start_and_wait_for(step):
        process = subprocess.Popen(
            [sys.executable, TRAIN, *args],
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.time() + 240
        while not (run / "checkpoints" / f"ckpt-{step}.index").exists():
            assert process.poll() is None, process.stderr.read()[-2000:]
            assert time.time() < deadline, f"no ckpt-{step} within 240 s"
            time.sleep(0.1)
        return process

    def stop(process, signum):
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=120)
        return process.returncode, stderr.splitlines()[-1]

    first = start_and_wait_for(2)
    try:
        second = _train(_flags(content, style, run, train_steps=4), capfd)
        line = _one_error_line(second)
        assert f"PID {first.pid} on host {socket.gethostname()}" in line
    finally:
        code, last = stop(first, signal.SIGINT)
    assert (code, last) == (130, "train.py: interrupted")
    after_first = _checkpoint_state(run)["step"]

    resumed = start_and_wait_for(after_first + 2)
    code, last = stop(resumed, signal.SIGTERM)
    assert (code, last) == (143, "train.py: terminated")
    assert not (run / "train.lock").exists()

    step = _checkpoint_state(run)["step"]
    training.train(_config(content, style, run, train_steps=step + 2))
    segments = [
        (h["first_step"], h["last_step"])
        for h in model_files.read_record(str(run / "model.keras"))["history"]
    ]
    assert len(segments) == 3 and segments[0][0] == 0
    assert segments[-1] == (step, step + 2)
    assert all(a[1] == b[0] for a, b in zip(segments, segments[1:])), segments


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(folders, finished_run, tmp_path):
    content, style = folders
    model_dir = tmp_path / "run"
    shutil.copytree(finished_run, model_dir)  # Two steps.
    good = _checkpoint_state(model_dir)
    with pytest.raises(training.TrainingError, match="NaN at step"):
        training.train(_config(content, style, model_dir, train_steps=6, learning_rate=1e30))
    assert _checkpoint_state(model_dir)["step"] == good["step"] == 2


def test_mixed_precision_trains_and_saves_a_float32_model(folders, tmp_path):
    content, style = folders
    training.train(_config(content, style, tmp_path / "run", train_steps=2, mixed_precision=True))
    assert keras.config.dtype_policy().name == "float32"  # restored
    model, record = model_files.load_stylizer(str(tmp_path / "run"))
    assert record["mixed_precision"] and np.isfinite(record["final_losses"]["loss"])
    assert all(w.dtype == "float32" for w in model.weights)
    assert model.dtype_policy.name == "float32"


def test_base_model_trains_from_the_command_line(folders, tmp_path, capfd):
    content, style = folders
    result = _train(
        _flags(content, style, tmp_path / "run", model_type="base", style_weights="1,0.5,0.25"),
        capfd,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    model, record = model_files.load_stylizer(str(tmp_path / "run"))
    assert not networks.is_adjustable(model)
    assert record["style_weights"] == [1.0, 0.5, 0.25]


def test_tfds_content(folders, tmp_path):
    import tensorflow_datasets as tfds

    class AdjustableStyleTrainTiny(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            return tfds.core.DatasetInfo(
                builder=self,
                features=tfds.features.FeaturesDict(
                    {"image": tfds.features.Image(shape=(None, None, 3))}
                ),
            )

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples()}

        def _generate_examples(self):
            r = np.random.default_rng(0)
            for i in range(6):
                yield i, {"image": r.integers(0, 255, (40, 36, 3), dtype=np.uint8)}

    data_dir = str(tmp_path / "tfds")
    AdjustableStyleTrainTiny(data_dir=data_dir).download_and_prepare(
        download_config=tfds.download.DownloadConfig(try_download_gcs=False)
    )
    _, style = folders
    training.train(
        _config(
            None,
            style,
            tmp_path / "run",
            content_tfds="adjustable_style_train_tiny",
            tfds_data_dir=data_dir,
        )
    )
    record = model_files.read_record(str(tmp_path / "run" / "model.keras"))
    assert record["content"] == "adjustable_style_train_tiny"
    assert record["steps"] == 4


_MIRRORED = """
import sys, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from adjustable_style.training import config as train_config
from adjustable_style.training import run_tf as training
training.train(train_config.TrainConfig(
    style_image=sys.argv[1], content_images=sys.argv[2], model_dir=sys.argv[3],
    vgg_weights="random", image_size=32, batch_size=4, train_steps=3,
    save_every=3, log_every=3, verbose=0, strategy="mirrored"))
"""


def test_mirrored_strategy_on_two_logical_cpus(folders, tmp_path):
    content, style = folders
    result = subprocess.run(
        [sys.executable, "-c", _MIRRORED, str(style), str(content), str(tmp_path / "run")],
        env=ENV,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    record = model_files.read_record(str(tmp_path / "run" / "model.keras"))
    assert record["replicas"] == 2 and record["steps"] == 3
    assert np.isfinite(record["final_losses"]["loss"])


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_worker_multi_worker_run_on_localhost(folders, tmp_path):
    content, style = folders
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    args = _flags(
        content,
        style,
        tmp_path / "run",
        strategy="multi_worker",
        batch_size=4,
        train_steps=3,
        save_every=3,
        log_every=3,
    )
    workers = []
    for index in range(2):
        env = {
            **ENV,
            "TF_CONFIG": json.dumps(
                {"cluster": cluster, "task": {"type": "worker", "index": index}}
            ),
        }
        workers.append(
            subprocess.Popen(
                [sys.executable, TRAIN, *args],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    try:
        outputs = [w.communicate(timeout=300) for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
    for w, (_, err) in zip(workers, outputs):
        assert w.returncode == 0, err[-3000:]
    record = model_files.read_record(str(tmp_path / "run" / "model.keras"))
    assert record["replicas"] == 2 and record["steps"] == 3


# ---------------------------------------------------------------------------
# --init_from: warm starts and fine-tuning.
# ---------------------------------------------------------------------------


def _trainable(model_dir):
    model, _ = model_files.load_stylizer(str(model_dir))
    return [np.asarray(w) for w in model.trainable_weights]


def test_init_from_starts_from_the_source_weights(folders, finished_run, tmp_path):
    content, style = folders
    source = finished_run  # Two steps.
    before = _files(source)
    # A step too small to move anything: the result is the starting point.
    target = tmp_path / "target"
    training.train(
        _config(content, style, target, train_steps=1, learning_rate=1e-12, init_from=str(source))
    )
    for theirs, ours in zip(_trainable(source), _trainable(target)):
        np.testing.assert_allclose(ours, theirs, atol=1e-6)
    record = model_files.read_record(str(target / "model.keras"))
    origin = record["init_from"]
    assert origin["model"] == str(source) and origin["steps"] == 2
    # Same style and loss network: the source's EMAs carry over.
    assert origin["emas"] == "taken over"
    assert record["steps"] == 1  # a fresh optimizer counts from 0
    assert record["total_steps"] == 3
    assert origin["history"][0]["last_step"] == 2
    assert _files(source) == before  # The source is only read.

    # Without --init_from the same run starts elsewhere.
    fresh = tmp_path / "fresh"
    training.train(_config(content, style, fresh, train_steps=1, learning_rate=1e-12))
    assert any(np.abs(a - b).max() > 1e-3 for a, b in zip(_trainable(source), _trainable(fresh)))


def test_init_from_a_new_style_starts_fresh_emas_and_resume_wins(
    folders, finished_run, tmp_path, capfd
):
    content, style = folders
    source = finished_run  # Two steps.
    other = tmp_path / "other_style.png"
    _photo(other, 123, size=(64, 64))
    run = tmp_path / "run"
    training.train(_config(content, other, run, train_steps=2, init_from=str(source)))
    assert model_files.read_record(str(run / "model.keras"))["init_from"]["emas"] == "fresh"
    # Resuming: the run's own checkpoint wins over --init_from, and the
    # record keeps where the run started.
    result = _train(_flags(content, other, run, train_steps=3, init_from=str(source)), capfd)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "--init_from is ignored" in result.stdout
    record = model_files.read_record(str(run / "model.keras"))
    assert record["steps"] == 3 and record["init_from"]["model"] == str(source)
    assert [(h["first_step"], h["last_step"]) for h in record["history"]] == [(0, 2), (2, 3)]


@pytest.mark.parametrize(
    "change,message",
    [
        (dict(init_from="no_such_model"), "is not a file, a model directory"),
        (
            dict(model_type="base", style_weights="1,1,1"),
            "is an adjustable model, but this run trains a base one",
        ),
        (
            dict(style_layers="block2_conv2,block3_conv4"),
            "weights the style layers block2_conv2,block3_conv4,block4_conv4",
        ),
    ],
)
def test_init_from_mismatches_exit_with_one_line(
    folders, finished_run, tmp_path, capfd, change, message
):
    content, style = folders
    source = finished_run
    flags = {"init_from": str(source), **change}
    line = _one_error_line(
        harness.run_train_in_process(_flags(content, style, tmp_path / "run", **flags), capfd)
    )
    assert message in line
    assert not (tmp_path / "run" / "model.keras").exists()


def test_init_from_another_layer_set_of_the_same_size(folders, finished_run, tmp_path):
    """A warm start may move the sliders to other layers: the weights travel,
    the loss EMAs start afresh, and the model and its record name the new
    layers (the old ones stay in the origin)."""
    import keras

    content, style = folders
    source = finished_run
    new_layers = ("block1_conv2", "block3_conv4", "block5_conv2")
    run = tmp_path / "run"
    training.train(
        _config(
            content,
            style,
            run,
            train_steps=1,
            init_from=str(source),
            style_layers=new_layers,
        )
    )
    stylizer, record = model_files.load_stylizer(str(run))
    assert networks.style_layer_names(stylizer) == list(new_layers)
    assert record["style_layers"] == list(new_layers)
    assert record["init_from"]["emas"] == "fresh"
    assert record["init_from"]["style_layers"] == [
        "block2_conv2",
        "block3_conv4",
        "block4_conv4",
    ]
    original = keras.saving.load_model(str(source / "model.keras"))
    assert len(original.weights) == len(stylizer.weights)


def test_resume_refuses_another_loss_normalization():
    from types import SimpleNamespace

    from adjustable_style.training import checkpoints

    config = SimpleNamespace(model_dir="runs/base")
    ours = {"model_type": "base", "loss_normalization": "none"}
    # A checkpoint from before the option was Eq. 8-normalized.
    with pytest.raises(
        checkpoints.CheckpointError, match="--loss_normalization: eq8 there, none now"
    ):
        checkpoints.check_identity(config, ours, {"model_type": "base"})
    checkpoints.check_identity(
        config, {**ours, "loss_normalization": "eq8"}, {"model_type": "base"}
    )
