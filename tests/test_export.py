"""SavedModel and TFLite exports agree with Keras and load without this package.

One tiny random-weights model is exported once per module: the SavedModel by
the real command (export/saved_model.py, in a subprocess), then loaded in a
fresh Python process that never imports adjustable_style, as a TF Hub user
would.
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import graph_ops
import numpy as np
import pytest

from adjustable_style import model_files
from adjustable_style.export import output_files, tflite
from adjustable_style.export import saved_model as export
from adjustable_style.inference import runtime

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STYLE_LAYERS = ("block2_conv2", "block3_conv4", "block4_conv4")
H, W = 37, 53
TOLERANCE = 1e-3
# The exports run the fast path's graph: float32 rounding apart from Keras.
FAST_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def keras_models(tmp_path_factory):
    """(adjustable Keras model, its model dir, base Keras model)."""
    import keras

    from adjustable_style.model import networks

    keras.utils.set_random_seed(5)
    adjustable = networks.build_adjustable_stylizer(STYLE_LAYERS)
    # A larger Lambda output kernel than the N(0, 1e-3) start, so that
    # alpha changes the picture as much as in a trained model.
    kernel = adjustable.get_layer("alpha_network").gamma_beta.kernel
    kernel.assign(np.random.default_rng(5).normal(0, 0.05, kernel.shape).astype(np.float32))
    model_dir = tmp_path_factory.mktemp("export") / "run"
    model_files.save_model(
        str(model_dir), adjustable, {"style_image": "wave.jpg", "train_steps": 7}
    )
    return adjustable, str(model_dir), networks.build_base_stylizer()


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(0)
    content = output_files.check_image(H, W, seed=1)
    batch = np.concatenate([content, rng.random((1, H, W, 3), np.float32)])
    alpha = np.array([[0.0, 0.3, 1.0], [0.9, 0.1, 0.5]], np.float32)
    return batch, alpha


@pytest.fixture(scope="module")
def saved_model_dir(keras_models):
    _, model_dir, _ = keras_models
    output = os.path.join(os.path.dirname(model_dir), "exported")
    env = dict(os.environ, PYTHONPATH=REPO)
    result = subprocess.run(
        [
            sys.executable,
            os.path.join(REPO, "export", "saved_model.py"),
            f"--model={model_dir}",
            f"--output={output}",
            # Not what this CPU would pick where it has AVX-512 (the tests
            # of the fast path cover that): both kinds are checked.
            "--convolutions=matmul",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{output}: SavedModel, __call__(content, alpha)")
    assert result.stdout.rstrip().endswith("; matmul convolutions")
    assert result.stderr == ""
    return output


@pytest.fixture(scope="module")
def tflite_file(keras_models, tmp_path_factory):
    adjustable, _, _ = keras_models
    path = str(tmp_path_factory.mktemp("tflite") / "stylizer.tflite")
    difference = tflite.export_tflite(adjustable, path, height=H, width=W)
    assert difference <= TOLERANCE
    return path


def test_keras_saved_model_and_tflite_agree(keras_models, inputs, saved_model_dir, tflite_file):
    import tensorflow as tf

    adjustable, _, _ = keras_models
    content, alpha = inputs
    reference = np.asarray(adjustable([content, alpha], training=False))
    assert reference.shape == content.shape
    assert np.abs(reference[0] - reference[1]).max() > 0.05  # Really different alphas.

    loaded = tf.saved_model.load(saved_model_dir)
    hub_style = loaded(tf.constant(content), tf.constant(alpha)).numpy()
    assert np.abs(hub_style - reference).max() <= FAST_TOLERANCE
    serving = loaded.signatures["serving_default"](
        content=tf.constant(content), alpha=tf.constant(alpha)
    )
    assert np.abs(serving["stylized"].numpy() - reference).max() <= FAST_TOLERANCE
    as_uint8 = loaded.signatures["serving_uint8"](
        image=tf.constant(np.round(content * 255).astype(np.uint8)), alpha=tf.constant(alpha)
    )
    assert as_uint8["stylized"].dtype == tf.uint8
    expected_uint8 = np.round(255 * np.asarray(adjustable([np.round(content * 255) / 255, alpha])))
    assert np.abs(as_uint8["stylized"].numpy() - expected_uint8).max() <= 1

    # TFLite runs at its fixed size [1, H, W, 3], one alpha at a time.
    with open(tflite_file, "rb") as f:
        run = tflite.tflite_runner(f.read())
    for k in range(len(alpha)):
        lite = run(content[k : k + 1], alpha[k : k + 1])
        assert lite.shape == (1, H, W, 3)
        assert np.abs(lite - reference[k : k + 1]).max() <= FAST_TOLERANCE


def test_saved_model_runs_the_fast_path(saved_model_dir):
    """Sub-pixel upsampling and no nearest-neighbour resize or mirror pad."""
    import tensorflow as tf

    loaded = tf.saved_model.load(saved_model_dir)
    for name in ("serving_default", "serving_uint8"):
        ops = graph_ops.op_types(loaded.signatures[name])
        assert "DepthToSpace" in ops and "Conv2D" in ops
        assert not ops & {"ResizeNearestNeighbor", "MirrorPad", "Tile"}, name
    # Only Lambda's weights (and the metadata) are variables; the Keras
    # model's convolution kernels are not saved a second time.
    names = {
        name.split("/")[0]
        for name, _ in tf.train.list_variables(
            os.path.join(saved_model_dir, "variables", "variables")
        )
    }
    assert "_graph" in names and "_stylizer" not in names


def test_alpha_batch_of_one_broadcasts(keras_models, inputs, saved_model_dir):
    import tensorflow as tf

    adjustable, _, _ = keras_models
    content, alpha = inputs
    loaded = tf.saved_model.load(saved_model_dir)
    out = loaded(tf.constant(content), tf.constant(alpha[:1])).numpy()
    reference = np.asarray(adjustable([content, np.repeat(alpha[:1], 2, axis=0)]))
    assert np.abs(out - reference).max() <= TOLERANCE


_FRESH_PROCESS = r"""
import json, sys
import numpy as np
import tensorflow as tf

path, inputs, outputs = sys.argv[1:4]
data = np.load(inputs)
model = tf.saved_model.load(path)
result = {
    "style_layers": [n.decode() for n in model.style_layers.numpy()],
    "record": json.loads(model.training_record.numpy().decode()),
    "signatures": sorted(model.signatures),
    "default_inputs": sorted(model.signatures["serving_default"].structured_input_signature[1]),
    "default_outputs": sorted(model.signatures["serving_default"].structured_outputs),
    "uint8_inputs": {k: v.dtype.name for k, v in
                     model.signatures["serving_uint8"].structured_input_signature[1].items()},
    "imports_package": any(m.startswith("adjustable_style") for m in sys.modules),
}
try:
    import tensorflow_hub as hub
    hub_model = hub.load(path)
    hub_out = hub_model(data["content"], data["alpha"]).numpy()
except ImportError:
    hub_out = None
np.savez(outputs,
         call=model(data["content"], data["alpha"]).numpy(),
         default=model.signatures["serving_default"](
             content=tf.constant(data["content"]), alpha=tf.constant(data["alpha"]))["stylized"].numpy(),
         uint8=model.signatures["serving_uint8"](
             image=tf.constant(data["image"]), alpha=tf.constant(data["alpha"]))["stylized"].numpy(),
         **({} if hub_out is None else {"hub": hub_out}))
print(json.dumps(result))
"""


def test_saved_model_loads_in_a_fresh_process_without_the_package(
    keras_models, inputs, saved_model_dir, tmp_path
):
    adjustable, _, _ = keras_models
    content, alpha = inputs
    np.savez(
        tmp_path / "in.npz",
        content=content,
        alpha=alpha,
        image=np.round(content * 255).astype(np.uint8),
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _FRESH_PROCESS,
            saved_model_dir,
            str(tmp_path / "in.npz"),
            str(tmp_path / "out.npz"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(tmp_path),
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    info = json.loads(result.stdout.strip().splitlines()[-1])
    assert info["style_layers"] == list(STYLE_LAYERS)
    assert info["record"] == {"style_image": "wave.jpg", "train_steps": 7}
    assert info["signatures"] == [
        "serving_alpha_map",
        "serving_default",
        "serving_preserve_color",
        "serving_uint8",
    ]
    assert info["default_inputs"] == ["alpha", "content"]
    assert info["default_outputs"] == ["stylized"]
    assert info["uint8_inputs"] == {"image": "uint8", "alpha": "float32"}
    assert not info["imports_package"]

    out = np.load(tmp_path / "out.npz")
    if importlib.util.find_spec("tensorflow_hub") is not None:
        assert "hub" in out  # hub.load was exercised, not skipped
    reference = np.asarray(adjustable([content, alpha]))
    for key in ("call", "default") + (("hub",) if "hub" in out else ()):
        assert out[key].shape == (2, H, W, 3)
        assert np.abs(out[key] - reference).max() <= TOLERANCE
    assert out["uint8"].dtype == np.uint8


def test_stylize_reads_the_saved_model_with_named_alphas(keras_models, inputs, saved_model_dir):
    adjustable, _, _ = keras_models
    content, _ = inputs
    model = runtime.load_model(saved_model_dir)
    assert model.adjustable and model.style_layers == list(STYLE_LAYERS)
    assert model.record["train_steps"] == 7
    alpha = np.array([[0.25, 1.0, 0.75]], np.float32)
    reference = np.asarray(adjustable([content[:1], alpha]))
    assert np.abs(model.stylize(content[:1], alpha) - reference).max() <= TOLERANCE


@pytest.fixture(scope="module")
def base_export(keras_models, tmp_path_factory):
    """The base model's SavedModel, written once for the tests that read or replace it."""
    folder = tmp_path_factory.mktemp("base_export")
    return folder, export.save_saved_model(keras_models[2], str(folder / "base"))


def test_base_model_export_takes_no_alpha(keras_models, inputs, base_export):
    import tensorflow as tf

    _, _, base = keras_models
    content, _ = inputs
    folder, path = base_export
    loaded = tf.saved_model.load(path)
    assert list(loaded.style_layers.numpy()) == []
    reference = np.asarray(base(content))
    assert np.abs(loaded(tf.constant(content)).numpy() - reference).max() <= TOLERANCE
    signature = loaded.signatures["serving_default"]
    assert sorted(signature.structured_input_signature[1]) == ["content"]
    assert (
        np.abs(signature(content=tf.constant(content))["stylized"].numpy() - reference).max()
        <= TOLERANCE
    )
    assert sorted(loaded.signatures["serving_uint8"].structured_input_signature[1]) == ["image"]
    model = runtime.load_model(path)
    assert not model.adjustable and model.style_layers == []
    assert sorted(os.listdir(folder)) == ["base"]  # No temporary folder left.


def test_export_refuses_existing_output_and_missing_folder(keras_models, tmp_path):
    _, _, base = keras_models
    (tmp_path / "taken").mkdir()
    with pytest.raises(model_files.ModelFileError, match="--overwrite"):
        export.save_saved_model(base, str(tmp_path / "taken"))
    with pytest.raises(model_files.ModelFileError, match="does not exist"):
        export.save_saved_model(base, str(tmp_path / "nope" / "out"))
    with pytest.raises(model_files.ModelFileError, match=r"\.tflite"):
        tflite.export_tflite(base, str(tmp_path / "model.lite"))
    (tmp_path / "taken.tflite").write_bytes(b"old")
    with pytest.raises(model_files.ModelFileError, match="--overwrite"):
        tflite.export_tflite(base, str(tmp_path / "taken.tflite"))
    assert sorted(os.listdir(tmp_path)) == ["taken", "taken.tflite"]


def test_overwrite_replaces_only_an_export_of_ours(keras_models, base_export, tmp_path):
    _, _, base = keras_models
    shutil.copytree(base_export[1], tmp_path / "out")  # An earlier export of ours.
    marker = json.loads((tmp_path / "out" / output_files.EXPORT_MARKER).read_text())
    assert "saved_model.pb" in marker["files"] and "variables/variables.index" in marker["files"]
    assert marker["files"]["saved_model.pb"] == model_files.file_sha256(
        tmp_path / "out" / "saved_model.pb"
    )
    # A killed export's temporary folder (its process gone) is removed.
    dead = subprocess.Popen([sys.executable, "-c", ""])
    dead.wait()
    (tmp_path / f".out.tmp-{dead.pid}-ab_cd123" / "variables").mkdir(parents=True)
    export.save_saved_model(base, str(tmp_path / "out"), overwrite=True)
    assert model_files.is_saved_model_dir(str(tmp_path / "out"))
    assert sorted(os.listdir(tmp_path)) == ["out"]
    # An export from before the marker file is recognised by its variables.
    os.remove(tmp_path / "out" / output_files.EXPORT_MARKER)
    export.save_saved_model(base, str(tmp_path / "out"), overwrite=True)
    assert output_files.is_our_export(str(tmp_path / "out"))

    # A file the user put into an export, or one changed since, is never deleted.
    for name, content, why in [
        ("MY_NOTES.txt", "mine", "was not written by the export"),
        ("saved_model.pb", "edited", "changed since the export wrote it"),
    ]:
        shutil.rmtree(tmp_path / "out")
        shutil.copytree(base_export[1], tmp_path / "out")
        (tmp_path / "out" / name).write_text(content)
        with pytest.raises(output_files.ExportError) as error:
            export.save_saved_model(base, str(tmp_path / "out"), overwrite=True)
        assert str(error.value).startswith(f"{tmp_path / 'out' / name}: {why}; --overwrite")
        assert (tmp_path / "out" / name).read_text() == content
    # The same in an export from before the marker listed its files.
    (tmp_path / "out" / output_files.EXPORT_MARKER).write_text("{}")
    shutil.copy(base_export[1] + "/saved_model.pb", tmp_path / "out" / "saved_model.pb")
    (tmp_path / "out" / "MY_NOTES.txt").write_text("mine")
    with pytest.raises(output_files.ExportError, match="MY_NOTES.txt: was not written"):
        export.save_saved_model(base, str(tmp_path / "out"), overwrite=True)
    # An empty marker and a note are no export at all.
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / output_files.EXPORT_MARKER).write_text("{}")
    (tmp_path / "fake" / "notes.txt").write_text("keep")
    with pytest.raises(output_files.ExportError, match="not a SavedModel exported"):
        export.save_saved_model(base, str(tmp_path / "fake"), overwrite=True)
    assert (tmp_path / "fake" / "notes.txt").read_text() == "keep"
    shutil.rmtree(tmp_path / "fake")
    shutil.rmtree(tmp_path / "out")
    shutil.copytree(base_export[1], tmp_path / "out")

    # Anything else stays as it was, subfolders included.
    (tmp_path / "mine" / "deep").mkdir(parents=True)
    (tmp_path / "mine" / "deep" / "notes.txt").write_text("keep")
    (tmp_path / "mine" / "saved_model.pb").write_bytes(b"not ours")
    with pytest.raises(model_files.ModelFileError, match="not a SavedModel exported"):
        export.save_saved_model(base, str(tmp_path / "mine"), overwrite=True)
    assert (tmp_path / "mine" / "deep" / "notes.txt").read_text() == "keep"
    (tmp_path / "notes.tflite").write_text("not a model")
    with pytest.raises(model_files.ModelFileError, match="not a TFLite model"):
        tflite.export_tflite(base, str(tmp_path / "notes.tflite"), overwrite=True)
    assert (tmp_path / "notes.tflite").read_text() == "not a model"
    assert sorted(os.listdir(tmp_path)) == ["mine", "notes.tflite", "out"]


def test_tflite_export_refuses_a_model_that_disagrees(keras_models, tmp_path, monkeypatch):
    _, _, base = keras_models
    monkeypatch.setattr(tflite, "convert_tflite", lambda *args: b"flatbuffer")
    monkeypatch.setattr(tflite, "compare_tflite", lambda *args: float("inf"))
    with pytest.raises(model_files.ModelFileError, match="differs from Keras"):
        tflite.export_tflite(base, str(tmp_path / "x.tflite"), height=8, width=8)
    assert os.listdir(tmp_path) == []


def test_not_a_stylizer_is_refused(tmp_path):
    import keras

    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(model_files.ModelFileError, match="not a stylizer"):
        model_files.describe_stylizer(other)
    (tmp_path / "empty").mkdir()
    with pytest.raises(model_files.ModelFileError):
        runtime.load_model(str(tmp_path / "empty"))


def test_a_saved_model_that_is_not_ours_is_refused(tmp_path):
    import tensorflow as tf

    class Other(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def __call__(self, x):
            return x * 2

    tf.saved_model.save(Other(), str(tmp_path / "other"))
    with pytest.raises(model_files.ModelFileError, match="not a stylizer exported"):
        runtime.load_model(str(tmp_path / "other"))


def _export_command(script, *args):
    env = dict(os.environ, PYTHONPATH=REPO)
    return subprocess.run(
        [sys.executable, os.path.join(REPO, "export", script), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )


@pytest.mark.parametrize(
    "script, flags, needle",
    [
        # A folder of someone else's files: refused, every file kept.
        (
            "saved_model.py",
            ["--model={model}", "--output={mine}", "--overwrite"],
            "not a SavedModel exported",
        ),
        (
            "saved_model.py",
            ["--model={damaged}", "--output={tmp}/out"],
            "training record is damaged",
        ),
        ("saved_model.py", ["--model={cut}", "--output={tmp}/out"], "not a zip archive"),
        (
            "saved_model.py",
            ["--model={model}", "--output={tmp}/out", "--convolutions=winograd"],
            "--convolutions must be auto, direct or matmul, got 'winograd'",
        ),
        (
            "saved_model.py",
            ["--model={model}", "--output={mine}/deep/notes.txt/x"],
            "is not a folder",
        ),
        # Refused before converting anything.
        (
            "tflite.py",
            ["--model={model}", "--output={tmp}/x.tflite", "--tolerance=-1"],
            "--tolerance must be a number >= 0",
        ),
        (
            "onnx.py",
            ["--model={model}", "--output={mine}/deep/notes.txt", "--overwrite"],
            "the output must end in .onnx",
        ),
    ],
)
def test_export_commands_refuse_with_one_line(script, flags, needle, keras_models, tmp_path):
    _, model_dir, _ = keras_models
    (tmp_path / "mine" / "deep").mkdir(parents=True)
    (tmp_path / "mine" / "deep" / "notes.txt").write_text("keep")
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    shutil.copy(os.path.join(model_dir, "model.keras"), damaged / "model.keras")
    (damaged / "model.json").write_text('{"style_image": "wave.jpg", ')
    (tmp_path / "cut.keras").write_bytes(
        open(os.path.join(model_dir, "model.keras"), "rb").read()[:1000]
    )
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    flags = [
        f.format(
            model=model_dir,
            mine=tmp_path / "mine",
            damaged=damaged,
            cut=tmp_path / "cut.keras",
            tmp=tmp_path,
        )
        for f in flags
    ]
    result = _export_command(script, *flags)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"export/{script}: error: "), result.stderr
    assert needle in lines[0]
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert (tmp_path / "mine" / "deep" / "notes.txt").read_text() == "keep"


def test_saved_model_alpha_map_and_preserve_color_signatures(keras_models, inputs, saved_model_dir):
    """The map signature computes what `FastStylizer.stylize_map` does, the
    colour signature what `color.preserve_color` makes of the plain output,
    and `model_files` uses the map signature of a loaded export."""
    import tensorflow as tf

    from adjustable_style import color
    from adjustable_style.inference.stylizer import FastStylizer

    adjustable, _, _ = keras_models
    content, alpha = inputs
    loaded = tf.saved_model.load(saved_model_dir)
    alpha_map = np.zeros((1, 5, 7, 3), np.float32)
    alpha_map[:, :, :3] = [1.0, 0.2, 0.6]
    fast = FastStylizer(adjustable)
    expected = fast.stylize_map(content, alpha_map)
    signature = loaded.signatures["serving_alpha_map"]
    assert sorted(signature.structured_input_signature[1]) == ["alpha_map", "content"]
    served = signature(content=tf.constant(content), alpha_map=tf.constant(alpha_map))
    assert np.abs(served["stylized"].numpy() - expected).max() <= FAST_TOLERANCE
    assert np.abs(loaded.stylize_with_map(content, alpha_map).numpy() - expected).max() <= (
        FAST_TOLERANCE
    )
    model = runtime.load_model(saved_model_dir)
    assert np.abs(model.stylize_map(content, alpha_map) - expected).max() <= FAST_TOLERANCE

    kept = loaded.signatures["serving_preserve_color"](
        content=tf.constant(content), alpha=tf.constant(alpha)
    )["stylized"].numpy()
    plain = fast(content, alpha)
    reference = np.asarray(color.preserve_color(content, plain))
    assert np.abs(kept - reference).max() <= FAST_TOLERANCE


@pytest.mark.parametrize(
    "script, flags, needle",
    [
        # Sizes and the opset are checked before anything is loaded.
        ("tflite.py", ["--height=65536"], "--height must be in 1..65535, got 65536"),
        (
            "tflite.py",
            ["--height=20000", "--width=20000"],
            "--height x --width is 20000x20000 (400 megapixels), over the limit of 64 megapixels",
        ),
        ("onnx.py", ["--opset=1"], "--opset must be in 14..18, got 1"),
        ("onnx.py", ["--opset=-1"], "--opset must be in 14..18, got -1"),
        ("onnx.py", ["--opset=999"], "--opset must be in 14..18, got 999"),
        # A Keras model that is not a stylizer, on every export's load path.
        ("saved_model.py", ["--model={other}"], "is a Keras model but not a stylizer"),
        ("tflite.py", ["--model={other}"], "is a Keras model but not a stylizer"),
        ("onnx.py", ["--model={other}"], "is a Keras model but not a stylizer"),
    ],
)
def test_export_bounds_and_foreign_models_are_one_line(script, flags, needle, tmp_path):
    import harness

    other = harness.write_keras_model_that_is_not_a_stylizer(tmp_path / "other.keras")
    output = {"saved_model.py": "out", "tflite.py": "x.tflite", "onnx.py": "x.onnx"}[script]
    flags = [f.format(other=other) for f in flags] + [f"--output={tmp_path / output}"]
    result = _export_command(script, *flags)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"export/{script}: error: "), result.stderr
    assert needle in lines[0]
    assert os.listdir(tmp_path) == ["other.keras"]
