"""train.py on JAX (and PyTorch) with TensorFlow absent: model files that
TensorFlow loads, stylizes with and exports, resume, TF-only flags refused.

Each run goes through `without_tensorflow.py`, whose import hook makes
`import tensorflow` fail as on a machine without it: on JAX in the
session's shared `jax_server` process (as `python train.py ...` would run),
and in a subprocess of its own where the test is about a fresh process
(its device count, one real command line) or on PyTorch. Tiny images,
random VGG.
"""

import importlib.util
import json
import os
import subprocess
import sys

import backend_server
import numpy as np
import pytest
from harness import train_flags as _flags

from adjustable_style import model_files
from adjustable_style.inference import runtime
from adjustable_style.training import checkpoints, content_files
from adjustable_style.training import config as train_config
from adjustable_style.training import run_tf as training

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WITHOUT_TF = os.path.join(REPO, "tests", "without_tensorflow.py")
TRAIN = os.path.join(REPO, "train.py")
# The jax_server fixture is shared with tests/test_backends.py (and, under
# pytest-xdist, the worker: conftest.py's XDIST_GROUPS).


@pytest.fixture(scope="module")
def folders(training_folders):
    return training_folders


# Loads a model under the backend and writes its output for fixed inputs.
STYLIZE = """
import sys, numpy as np, keras
from adjustable_style import model_files
stylizer, _ = model_files.load_stylizer(sys.argv[1])
with np.load(sys.argv[2]) as inputs:
    output = stylizer([inputs["content"], inputs["alpha"]])
np.save(sys.argv[3], keras.ops.convert_to_numpy(output))
"""


_env = backend_server.backend_env


def _without_tf(backend, *args):
    return subprocess.run(
        [sys.executable, WITHOUT_TF, *args],
        env=_env(backend),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _train(backend, content, style, model_dir, **extra):
    return _without_tf(backend, TRAIN, *_flags(content, style, model_dir, **extra))


@pytest.fixture(scope="module")
def jax_run(folders, tmp_path_factory, jax_server):
    """Two steps, then a rerun that resumes to four; the output of the result."""
    content, style = folders
    root = tmp_path_factory.mktemp("jax_run")
    model_dir = root / "run"
    first = jax_server.run_script(TRAIN, *_flags(content, style, model_dir, train_steps=2))
    assert first.returncode == 0, first.stderr[-3000:]
    resumed = jax_server.run_script(TRAIN, *_flags(content, style, model_dir, train_steps=4))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    rng = np.random.default_rng(0)
    inputs = root / "inputs.npz"
    np.savez(
        inputs,
        content=rng.random((2, 36, 28, 3), dtype=np.float32),
        alpha=rng.random((2, 3), dtype=np.float32),
    )
    stylized = jax_server.run_code(
        STYLIZE, model_dir / "model.keras", inputs, root / "jax_output.npy"
    )
    assert stylized.returncode == 0, stylized.stderr[-3000:]
    return model_dir, resumed.stdout, inputs, np.load(root / "jax_output.npy")


def test_a_jax_run_writes_a_model_that_tensorflow_loads_and_exports(jax_run, tmp_path):
    from adjustable_style.export import saved_model as export

    model_dir, _, inputs, jax_output = jax_run
    stylizer, record = model_files.load_stylizer(str(model_dir))
    assert record["backend"] == "jax" and record["steps"] == 4
    assert record["replicas"] == 1 and record["history"][-1]["jit_compile"]
    with np.load(inputs) as arrays:
        content, alpha = arrays["content"], arrays["alpha"]
    np.testing.assert_allclose(np.asarray(stylizer([content, alpha])), jax_output, atol=1e-4)
    # The fast inference path and the export read it too.
    fast = runtime.load_model(str(model_dir)).stylize(content, alpha)
    np.testing.assert_allclose(fast, jax_output, atol=1e-4)
    assert os.path.isdir(export.save_saved_model(stylizer, str(tmp_path / "saved"), record))


def test_a_rerun_resumes_from_the_newest_checkpoint(jax_run):
    model_dir, stdout, _, _ = jax_run
    assert "Resuming at step 2" in stdout
    record = model_files.read_record(str(model_dir / "model.keras"))
    assert [(h["first_step"], h["last_step"]) for h in record["history"]] == [(0, 2), (2, 4)]
    names = sorted(os.listdir(model_dir / "checkpoints"))
    assert names == ["state-2.json", "state-2.weights.h5", "state-4.json", "state-4.weights.h5"]
    with open(model_dir / "checkpoints" / "state-4.json") as f:
        assert json.load(f)["identity"]["style_image"] == "style.jpg"


def test_tensorflow_refuses_to_resume_a_jax_folder(jax_run, folders):
    content, style = folders
    config = train_config.TrainConfig(
        style_image=str(style),
        content_images=str(content),
        model_dir=str(jax_run[0]),
        vgg_weights="random",
        image_size=32,
        batch_size=2,
        train_steps=6,
        verbose=0,
    )
    with pytest.raises(checkpoints.CheckpointError, match="JAX or PyTorch run"):
        training.train(config)


def _tensorflow_only_flag(folders, tmp_path, flag, message, run):
    content, style = folders
    args = [
        a
        for a in _flags(content, style, tmp_path / "run")
        if not (flag.startswith("--content_tfds") and a.startswith("--content_images"))
    ]
    result = run(TRAIN, *args, flag)
    assert result.returncode == 1, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "KERAS_BACKEND=tensorflow" in lines[0]
    assert not os.path.exists(tmp_path / "run")


@pytest.mark.parametrize(
    "flag, message",
    [
        ("--strategy=mirrored", "tf.distribute"),
        ("--content_tfds=dtd", "TensorFlow Datasets"),
        ("--tpu=grpc://x", "--tpu"),
    ],
)
def test_tensorflow_only_flags_exit_with_one_line(folders, tmp_path, jax_server, flag, message):
    _tensorflow_only_flag(folders, tmp_path, flag, message, jax_server.run_script)


def test_a_tensorflow_only_flag_exits_with_one_line_from_the_real_command(folders, tmp_path):
    """As above, through a fresh `python train.py` of its own."""
    pytest.importorskip("jax")
    run = lambda *args: _without_tf("jax", *args)  # noqa: E731
    _tensorflow_only_flag(folders, tmp_path, "--tpu=grpc://x", "--tpu", run)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed")
def test_a_torch_run_writes_a_model_that_tensorflow_loads(folders, tmp_path):
    content, style = folders
    result = _train("torch", content, style, tmp_path / "run", train_steps=2)
    assert result.returncode == 0, result.stderr[-3000:]
    stylizer, record = model_files.load_stylizer(str(tmp_path / "run"))
    assert record["backend"] == "torch" and record["steps"] == 2
    assert stylizer([np.zeros((1, 16, 16, 3), np.float32), np.zeros((1, 3), np.float32)]).shape == (
        1,
        16,
        16,
        3,
    )


def test_content_crops_are_a_function_of_seed_and_step(folders):
    content, _ = folders
    crops = content_files.content_crops(str(content), 24, 2, seed=3, workers=1)
    first = crops[5]
    assert first.shape == (2, 24, 24, 3) and first.dtype == np.float32
    assert 0.0 <= first.min() and first.max() <= 1.0
    crops.first_step = 4
    np.testing.assert_array_equal(crops[1], first)
    assert not np.array_equal(crops[0], first)
    again = content_files.content_crops(str(content), 24, 2, seed=3, workers=1)
    np.testing.assert_array_equal(again[5], first)


def test_several_jax_devices_share_each_batch(folders, tmp_path):
    pytest.importorskip("jax")
    content, style = folders
    env = {**_env("jax"), "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}

    def run(**extra):
        return subprocess.run(
            [
                sys.executable,
                WITHOUT_TF,
                TRAIN,
                *_flags(content, style, tmp_path / "run", train_steps=2, **extra),
            ],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )

    odd = run(batch_size=3)
    assert odd.returncode == 1 and "multiple of the 2 devices" in odd.stderr
    result = run(batch_size=4)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Data parallel over 2 devices" in result.stdout
    assert model_files.read_record(str(tmp_path / "run" / "model.keras"))["replicas"] == 2
