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

# Parallel runs: pytest.ini starts two pytest-xdist workers (`-n 2 --dist
# loadfile`); `-n 0` runs in one process. A test module runs whole on one
# worker, so that its module-scoped fixtures are built once. These node-id
# prefixes make other units: modules that share a session fixture run on one
# worker, and a long module's tests of one kind run beside the rest of it.
XDIST_GROUPS = {
    # One JAX server process (the jax_server fixture below) for both.
    "tests/test_backends.py::": "jax_server",
    "tests/test_backend_training.py::": "jax_server",
    # The tests that start train.py processes of their own.
    **{
        f"tests/test_training.py::{name}": "test_training.py, own processes"
        for name in (
            "test_a_killed_run_resumes_from_its_last_checkpoint",
            "test_a_bad_setup_exits_with_one_line_from_the_real_command",
            "test_two_trainers_and_interrupted_segments",
            "test_mirrored_strategy_on_two_logical_cpus",
            "test_two_worker_multi_worker_run_on_localhost",
        )
    },
}


def xdist_unit(nodeid):
    """The unit of work that `nodeid` belongs to: its XDIST_GROUPS group, or its file."""
    for prefix, group in XDIST_GROUPS.items():
        if nodeid.startswith(prefix):
            return group
    return nodeid.split("::")[0]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`--dist loadfile`, with the units of `xdist_unit`. (The controller sees
    node ids only; pytest 9.2 no longer lets xdist's own `loadgroup` add the
    `xdist_group` mark to them, so the groups are named here.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class Units(LoadFileScheduling):
        def _split_scope(self, nodeid):
            return xdist_unit(nodeid)

    return Units(config, log)


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
    one xdist worker: XDIST_GROUPS).
    """
    pytest.importorskip("jax")
    import backend_server

    server = backend_server.BackendServer("jax", tmp_path_factory.mktemp("jax_server") / "log")
    yield server
    server.close()


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
