"""Shared fixtures: small, seeded, offline."""

import os

# Quiet TensorFlow's C++ start-up chatter in test output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest


@pytest.fixture(scope="session")
def vgg19_spec():
    from adjustable_style import loss_network

    return loss_network.default_spec("vgg19")


@pytest.fixture(scope="session")
def random_vgg19(vgg19_spec):
    """VGG-19 with random weights: tests check mechanics, not style."""
    import keras

    from adjustable_style import loss_network

    keras.utils.set_random_seed(1)
    return loss_network.build_loss_network(vgg19_spec, weights="random")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
