"""Shared fixtures: small, seeded, offline, and built once per session.

The helpers they are built on are in `harness.py`; a test module takes a
fixture here instead of importing another test module.
"""

import os

# Quiet TensorFlow's C++ start-up chatter in test output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import harness  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


def pytest_collection_modifyitems(config, items):
    """Parallel runs (pytest-xdist, `-n 2 --dist loadgroup` in pytest.ini):
    a module's tests run on one worker, so that its module-scoped fixtures
    are built once. A test marked `xdist_group(NAME)` runs with that group
    instead: modules that share a session fixture name one group, and a
    long module may split itself into groups.
    """
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


@pytest.fixture(scope="session")
def vgg19_spec():
    from adjustable_style.model import loss_network

    return loss_network.default_spec("vgg19")


@pytest.fixture(scope="session")
def random_vgg19(vgg19_spec):
    """VGG-19 with random weights: tests check mechanics, not style."""
    import keras

    from adjustable_style.model import loss_network

    keras.utils.set_random_seed(1)
    return loss_network.build_loss_network(vgg19_spec, weights="random")


@pytest.fixture(scope="session")
def stylizer_files(tmp_path_factory):
    """{"adjustable", "base"}: tiny random stylizers saved as .keras files."""
    folder = tmp_path_factory.mktemp("stylizers")
    adjustable, base = harness.make_stylizer_files(str(folder))
    return {"adjustable": adjustable, "base": base}


@pytest.fixture(scope="session")
def adjustable_model(stylizer_files):
    """The tiny adjustable stylizer behind `runtime.Model`, loaded (and traced) once."""
    from adjustable_style.inference import runtime

    return runtime.load_model(stylizer_files["adjustable"])


@pytest.fixture(scope="session")
def base_model(stylizer_files):
    from adjustable_style.inference import runtime

    return runtime.load_model(stylizer_files["base"])


@pytest.fixture(scope="session")
def training_folders(tmp_path_factory):
    """(content folder, style image) of every tiny training run."""
    return harness.make_training_folders(tmp_path_factory.mktemp("train_data"))


@pytest.fixture(scope="session")
def jax_server(tmp_path_factory):
    """One JAX process, TensorFlow hidden, that runs the backend tests' commands.

    tests/test_backends.py and tests/test_backend_training.py share it (and
    the xdist group "jax_server", so that they run on one worker).
    """
    pytest.importorskip("jax")
    import backend_server

    server = backend_server.BackendServer("jax", tmp_path_factory.mktemp("jax_server") / "log")
    yield server
    server.close()


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
