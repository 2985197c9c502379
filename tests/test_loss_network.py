"""The VGG loss network: layers, preprocessing, weights, clear errors."""

import keras
import numpy as np
import pytest

from adjustable_style.model import loss_network


def test_default_layers_are_the_papers():
    vgg19 = loss_network.default_spec("vgg19")
    assert vgg19.content_layer == "block3_conv4"
    assert vgg19.style_layers == ("block2_conv2", "block3_conv4", "block4_conv4")
    vgg16 = loss_network.default_spec("vgg16")
    assert vgg16.content_layer == "block3_conv3"
    assert vgg16.style_layers == ("block2_conv2", "block3_conv3", "block4_conv3")
    assert vgg19.layers == ("block3_conv4", "block2_conv2", "block4_conv4")


def test_outputs_are_the_named_layers_of_vgg(random_vgg19, vgg19_spec, rng):
    image = rng.random((2, 32, 40, 3)).astype(np.float32)
    features = random_vgg19(image)
    assert set(features) == set(vgg19_spec.layers)
    assert features["block2_conv2"].shape == (2, 16, 20, 128)
    assert features["block4_conv4"].shape == (2, 4, 5, 512)
    assert not random_vgg19.trainable_weights


def test_features_equal_keras_vgg_on_caffe_preprocessed_input(rng, tmp_path):
    keras.utils.set_random_seed(3)
    full = keras.applications.VGG16(include_top=False, weights=None)
    path = str(tmp_path / "vgg16.weights.h5")
    full.save_weights(path)
    spec = loss_network.default_spec("vgg16")
    net = loss_network.build_loss_network(spec, weights=path)
    image = rng.random((1, 32, 32, 3)).astype(np.float32)
    reference = keras.Model(full.input, full.get_layer("block3_conv3").output)(
        keras.applications.vgg16.preprocess_input(image * 255.0)
    )
    np.testing.assert_allclose(net(image)["block3_conv3"], reference, rtol=1e-4, atol=1e-3)


def test_custom_layers_are_configuration(rng):
    spec = loss_network.default_spec(
        "vgg16", content_layer="block2_conv2", style_layers=["block1_conv1", "block5_conv1"]
    )
    net = loss_network.build_loss_network(spec, weights="random")
    assert set(net(rng.random((1, 32, 32, 3)).astype(np.float32))) == {
        "block2_conv2",
        "block1_conv1",
        "block5_conv1",
    }


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(network="vgg11"), "unknown loss network"),
        (dict(network="vgg19", style_layers=["block9_conv1"]), "no layer block9_conv1"),
    ],
)
def test_bad_specs_are_clear_errors(kwargs, message):
    with pytest.raises(loss_network.LossNetworkError, match=message):
        spec = loss_network.default_spec(**kwargs)
        loss_network.build_loss_network(spec, weights="random")


def test_bad_weights_files_are_clear_errors(tmp_path):
    spec = loss_network.default_spec("vgg19")
    with pytest.raises(loss_network.LossNetworkError, match="does not exist"):
        loss_network.build_loss_network(spec, str(tmp_path / "missing.h5"))
    junk = tmp_path / "junk.weights.h5"
    junk.write_text("not hdf5")
    with pytest.raises(loss_network.LossNetworkError, match="not a vgg19"):
        loss_network.build_loss_network(spec, str(junk))


def test_truncated_network_shares_the_weights_and_stops_early(random_vgg19, vgg19_spec, rng):
    content = vgg19_spec.content_layer
    sub = loss_network.truncated_loss_network(random_vgg19, [content])
    image = rng.random((2, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(
        sub(image)[content], random_vgg19(image)[content], rtol=1e-6, atol=1e-6
    )
    names = [layer.name for layer in sub.layers]
    assert content in names and "block4_conv1" not in names
    assert {id(v) for v in sub.weights} < {id(v) for v in random_vgg19.weights}
    assert not sub.trainable_weights
    # Not a network from build_loss_network: nothing to truncate.
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    assert loss_network.truncated_loss_network(other, [content]) is None
