"""The ONNX export runs in onnxruntime and agrees with Keras at any size."""

import numpy as np
import pytest

pytest.importorskip("tf2onnx")
pytest.importorskip("onnxruntime")

from adjustable_style import model_files  # noqa: E402
from adjustable_style.export import onnx as onnx_export  # noqa: E402
from adjustable_style.export import output_files  # noqa: E402

STYLE_LAYERS = ("block2_conv2", "block3_conv4", "block4_conv4")
TOLERANCE = 1e-3


@pytest.fixture(scope="module")
def adjustable():
    import keras

    from adjustable_style.model import networks

    keras.utils.set_random_seed(7)
    model = networks.build_adjustable_stylizer(STYLE_LAYERS)
    # A Lambda output kernel large enough that alpha changes the picture.
    kernel = model.get_layer("alpha_network").gamma_beta.kernel
    kernel.assign(np.random.default_rng(7).normal(0, 0.05, kernel.shape).astype(np.float32))
    return model


@pytest.fixture(scope="module")
def onnx_file(adjustable, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("onnx") / "stylizer.onnx")
    difference = onnx_export.export_onnx(adjustable, path)
    assert difference <= TOLERANCE
    return path


def test_onnx_has_dynamic_size_and_matches_keras(adjustable, onnx_file):
    import onnx

    graph = onnx.load(onnx_file).graph
    inputs = {i.name: i.type.tensor_type.shape.dim for i in graph.input}
    assert sorted(inputs) == ["alpha", "content"]
    assert [o.name for o in graph.output] == ["stylized"]
    # Batch, height and width symbolic; 3 channels and 3 alphas fixed.
    assert [d.dim_value for d in inputs["content"]] == [0, 0, 0, 3]
    assert [d.dim_value for d in inputs["alpha"]][1] == 3

    with open(onnx_file, "rb") as f:
        run = onnx_export.onnx_runner(f.read())
    rng = np.random.default_rng(1)
    # Two sizes (one odd, so the padding and the crop back matter), a batch
    # of two alphas and an alpha batch of one broadcast over two images.
    for height, width, alphas in ((33, 47, 2), (40, 24, 1)):
        content = rng.random((2, height, width, 3), np.float32)
        alpha = rng.random((alphas, 3), np.float32)
        expected = np.asarray(adjustable([content, np.broadcast_to(alpha, (2, 3))]))
        got = run(content, alpha)
        assert got.shape == content.shape
        assert np.abs(got - expected).max() <= TOLERANCE
    differ = run(content, np.zeros((1, 3), np.float32)) - run(content, np.ones((1, 3), np.float32))
    assert np.abs(differ).max() > 0.05  # alpha really is an input.


def test_onnx_export_refuses_bad_outputs(adjustable, onnx_file, tmp_path):
    with pytest.raises(model_files.ModelFileError, match="must end in .onnx"):
        onnx_export.export_onnx(adjustable, str(tmp_path / "x.tflite"))
    with pytest.raises(model_files.ModelFileError, match="already exists"):
        onnx_export.export_onnx(adjustable, onnx_file)
    (tmp_path / "notes.onnx").write_text("not a model")
    with pytest.raises(model_files.ModelFileError, match="not an ONNX model"):
        onnx_export.export_onnx(adjustable, str(tmp_path / "notes.onnx"), overwrite=True)
    assert (tmp_path / "notes.onnx").read_text() == "not a model"
    assert onnx_export.is_onnx_file(onnx_file)


def test_onnx_export_refuses_a_model_that_disagrees(adjustable, tmp_path, monkeypatch):
    monkeypatch.setattr(onnx_export, "convert_onnx", lambda *args: b"model")
    monkeypatch.setattr(onnx_export, "compare_onnx", lambda *args: 0.5)
    with pytest.raises(output_files.ExportError, match="differs from Keras by 0.5"):
        onnx_export.export_onnx(adjustable, str(tmp_path / "x.onnx"))
    assert list(tmp_path.iterdir()) == []
