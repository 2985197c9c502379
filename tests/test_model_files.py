"""Model directories, shipped models, and the compact float16 storage."""

import json
import os

import keras
import numpy as np
import pytest

from adjustable_style import model_files
from adjustable_style.model import networks


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    keras.utils.set_random_seed(0)
    stylizer = networks.build_adjustable_stylizer(("block2_conv2", "block3_conv4", "block4_conv4"))
    folder = tmp_path_factory.mktemp("model")
    model_files.save_model(str(folder), stylizer, {"steps": 7})
    return stylizer, folder


def test_save_model_writes_model_and_record(saved):
    _, folder = saved
    assert sorted(os.listdir(folder)) == ["model.json", "model.keras"]
    assert json.loads((folder / "model.json").read_text()) == {"steps": 7}
    model, record = model_files.load_stylizer(str(folder))
    assert record == {"steps": 7} and networks.is_adjustable(model)


def test_compact_file_halves_the_size_and_keeps_the_outputs(saved, tmp_path):
    stylizer, folder = saved
    compact = model_files.compact_keras_file(
        str(folder / "model.keras"), str(tmp_path / "compact.keras")
    )
    assert os.path.getsize(compact) < 0.55 * os.path.getsize(folder / "model.keras")
    loaded = keras.saving.load_model(compact)
    assert all(w.dtype == "float32" for w in loaded.weights)
    r = np.random.default_rng(0)
    content = r.random((2, 45, 61, 3)).astype(np.float32)
    alpha = r.random((2, 3)).astype(np.float32)
    difference = np.abs(
        np.asarray(loaded([content, alpha])) - np.asarray(stylizer([content, alpha]))
    )
    assert difference.max() < 1 / 255  # below one 8-bit output step
    assert networks.style_layer_names(loaded) == networks.style_layer_names(stylizer)


def test_unknown_model_names_the_shipped_ones(tmp_path):
    with pytest.raises(model_files.ModelFileError, match="not a file, a model directory"):
        model_files.resolve_model_path(str(tmp_path / "nothing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(model_files.ModelFileError, match="without a model.keras"):
        model_files.resolve_model_path(str(tmp_path / "empty"))


@pytest.mark.parametrize("name", model_files.shipped_models())
def test_shipped_models_load_with_plain_keras(name):
    """A shipped file names its layers' modules as they were when it was saved:
    `adjustable_style.layers` and `.networks` for models saved before the
    package was cut by stage, `adjustable_style.model.*` after. Both must keep
    resolving, with the registered names `adjustable_style>...`, and no
    custom_objects."""
    import re
    import zipfile

    path = os.path.join(model_files.SHIPPED_DIR, name, model_files.MODEL_FILE)
    with zipfile.ZipFile(path) as archive:
        config = archive.read("config.json").decode()
    modules = set(re.findall(r'"module": "(adjustable_style[\w.]*)"', config))
    assert modules and modules <= {
        "adjustable_style.layers",
        "adjustable_style.networks",
        "adjustable_style.model.layers",
        "adjustable_style.model.networks",
    }
    for module in modules:
        __import__(module)  # What Keras needs importable for these files.
    stylizer = keras.saving.load_model(path)
    content = np.full((1, 20, 24, 3), 0.5, np.float32)
    out = np.asarray(stylizer([content, np.ones((1, 3), np.float32)]))
    assert out.shape == content.shape and np.isfinite(out).all()
    assert type(stylizer.get_layer("alpha_network")) is networks.AlphaNetwork
