"""The stylizer, its losses and its training under JAX and PyTorch.

Keras fixes its backend when it is imported, so each other backend runs
`backend_worker.py` in another process (JAX in the session's shared
`jax_server`, PyTorch in a subprocess), with TensorFlow hidden, from files
written here under TensorFlow; this process runs the same steps under
TensorFlow and compares. One run per backend does every check, so each
backend compiles its steps once. A backend that is not installed is
skipped (CI installs JAX through the test extra; torch is optional).
"""

import importlib.util
import json
import os
import subprocess
import sys

import backend_server
import backend_worker
import keras
import numpy as np
import pytest

from adjustable_style.model import networks

# Under pytest-xdist, on the worker that runs tests/test_backend_training.py
# (conftest.py's XDIST_GROUPS): one JAX server for both.
pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="compares the other backends with TensorFlow"
)

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "backend_worker.py")
RUN_WORKER = "import sys, backend_worker; backend_worker.main(*sys.argv[1:])"
STYLE_LAYERS = ("block2_conv2", "block3_conv4", "block4_conv4")
SIZE = 32
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Random weights and data, written under TensorFlow."""
    path = tmp_path_factory.mktemp("inputs")
    keras.utils.set_random_seed(1)
    vgg = keras.applications.VGG19(include_top=False, weights=None)
    vgg.save_weights(path / "vgg19.weights.h5")
    keras.utils.set_random_seed(0)
    networks.build_adjustable_stylizer(STYLE_LAYERS).save(path / "stylizer.keras")
    r = np.random.default_rng(7)
    content = r.random((4, SIZE, SIZE, 3)).astype(np.float32)
    content = (content + np.roll(content, 1, 1) + np.roll(content, 1, 2)) / 3
    stripes = (np.sin(np.arange(48) / 2.0)[None, :, None] > 0).astype(np.float32)
    style = np.broadcast_to(stripes, (48, 48, 3)) * np.array([1, 0.3, 0.1], np.float32)
    np.savez(
        path / "arrays.npz",
        content=content,
        style=np.ascontiguousarray(style),
        alpha=r.random((4, 3)).astype(np.float32),
        odd=r.random((1, 13, 22, 3)).astype(np.float32),
        tiny=r.random((1, 3, 5, 3)).astype(np.float32),
    )
    return path


@pytest.fixture(scope="module")
def tensorflow_run(inputs, tmp_path_factory):
    output = tmp_path_factory.mktemp("tensorflow")
    return backend_worker.run_training(str(inputs), str(output))


@pytest.fixture(scope="module", params=["jax", "torch"])
def other_run(request, inputs, tmp_path_factory):
    backend = request.param
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    output = tmp_path_factory.mktemp(backend)
    if backend == "jax":
        done = request.getfixturevalue("jax_server").run_code(RUN_WORKER, inputs, output)
    else:
        done = subprocess.run(
            [sys.executable, os.path.join(HERE, "without_tensorflow.py"), WORKER, inputs, output],
            env=backend_server.backend_env(backend),
            capture_output=True,
            text=True,
            timeout=900,
        )
    assert done.returncode == 0, done.stderr[-4000:]
    with open(output / "results.json") as f:
        results = json.load(f)
    with np.load(output / "arrays.npz") as stored:
        arrays = dict(stored)
    return backend, results, arrays, output


def assert_close_logs(got, expected):
    assert set(got) == set(expected)
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=TOLERANCE), name


def test_model_modules_import_without_tensorflow(other_run):
    backend, results, _, _ = other_run
    assert results["keras_backend"] == backend
    # It ran where `import tensorflow` fails, and nothing brought it in.
    assert results["tensorflow_importable"] is False
    assert results["tensorflow_imported_by_modules"] is False


def test_a_tensorflow_keras_file_gives_the_same_output(other_run, tensorflow_run):
    _, _, arrays, _ = other_run
    expected = tensorflow_run[1]
    for name in ("loaded_output", "odd_output", "tiny_output"):
        assert arrays[name].shape == expected[name].shape, name
        np.testing.assert_allclose(
            arrays[name], expected[name], rtol=0, atol=TOLERANCE, err_msg=name
        )
    features = expected["features"]
    np.testing.assert_allclose(
        arrays["features"], features, rtol=TOLERANCE, atol=TOLERANCE * np.abs(features).max()
    )


def test_one_step_gives_the_same_losses(other_run, tensorflow_run):
    _, results, arrays, _ = other_run
    expected_results, expected = tensorflow_run
    assert results["same_variables"] and expected_results["same_variables"]
    # The step's own losses, the EMAs it folded them into, and the losses
    # of the weights its gradients moved.
    assert_close_logs(results["first_step"], expected_results["first_step"])
    np.testing.assert_allclose(
        arrays["ema_after_one_step"], expected["ema_after_one_step"], rtol=TOLERANCE
    )
    np.testing.assert_allclose(
        arrays["raw_after_one_step"].mean(0), expected["raw_after_one_step"].mean(0), rtol=TOLERANCE
    )
    assert_close_logs(results["step_two"], expected_results["step_two"])


def test_the_loss_falls(other_run, tensorflow_run):
    for results in (other_run[1], tensorflow_run[0]):
        losses = results["losses"]
        assert np.isfinite(losses).all()
        assert losses[-1] < 0.95 * losses[0], losses
        assert results["fit_loss"] < losses[0] and np.isfinite(results["evaluate_loss"])


@pytest.mark.parametrize("side", ["other", "tensorflow"])
def test_a_checkpoint_resumes_the_run(side, other_run, tensorflow_run):
    results = other_run[1] if side == "other" else tensorflow_run[0]
    assert results["iterations_after_restore"] == 1
    # The restored step repeats the original exactly: weights, optimizer
    # slots, step counter (so the same draws) and EMAs all came back.
    assert results["step_two_again"] == results["step_two"]
    assert results["after_step_two_repeats"]
    assert results["fresh_restore_matches"] and results["fresh_iterations"] == 1
    assert results["fresh_optimizer_matches"]
    # Two steps before the restore (one undone), the repeated one, the
    # further steps, then two of `fit`.
    assert results["iterations"] == results["count"] == 2 + backend_worker.STEPS + 2


def test_alpha_draws_on_the_backend_are_per_step_and_repeatable(other_run):
    results = other_run[1]
    assert results["draws_repeat"] and results["draws_differ_by_step"]
    assert results["draws_in_unit_cube"]


def test_its_keras_file_loads_under_tensorflow(other_run, inputs):
    _, _, arrays, output = other_run
    with np.load(inputs / "arrays.npz") as stored:
        content, alpha = stored["content"], stored["alpha"]
    stylizer = keras.saving.load_model(output / "stylizer.keras")
    np.testing.assert_allclose(
        stylizer([content, alpha]), arrays["trained_output"], rtol=0, atol=TOLERANCE
    )
