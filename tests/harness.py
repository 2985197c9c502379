"""What several test modules share: the repository's paths, tiny stylizer
files, tiny training photos, the flags of a tiny training run, and running
the repository's commands in a subprocess.

Test modules import this module (or take the fixtures of conftest.py that
are built on it), never each other.
"""

import os
import subprocess
import sys

import numpy as np
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN = os.path.join(REPO, "train.py")
STYLE_LAYERS = ("block2_conv2", "block3_conv4", "block4_conv4")
# The environment of every command run in a subprocess: no GPU, little chatter.
COMMAND_ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}


def make_stylizer_files(folder):
    """(adjustable .keras path, base .keras path), random weights.

    Lambda's output layer starts at N(0, 1e-3), which makes alpha almost
    irrelevant in an untrained model; a larger random kernel makes every
    alpha visibly different, as in a trained one.
    """
    import keras

    from adjustable_style.model import networks

    keras.utils.set_random_seed(3)
    adjustable = networks.build_adjustable_stylizer(STYLE_LAYERS)
    kernel = adjustable.get_layer("alpha_network").gamma_beta.kernel
    kernel.assign(np.random.default_rng(3).normal(0, 0.05, kernel.shape).astype(np.float32))
    adjustable_path = os.path.join(folder, "adjustable.keras")
    adjustable.save(adjustable_path)
    base_path = os.path.join(folder, "base.keras")
    networks.build_base_stylizer().save(base_path)
    return adjustable_path, base_path


def write_photo(path, seed, size=(48, 40), mode="RGB"):
    """A blocky random picture (photo-like flat regions), `size` = (width, height)."""
    r = np.random.default_rng(seed)
    base = r.random((size[1] // 8, size[0] // 8, 3))
    image = np.kron(base, np.ones((8, 8, 1)))
    pixels = (image * 255).astype(np.uint8)
    Image.fromarray(pixels).convert(mode).save(path)


def make_training_folders(root):
    """(content folder of four photos, style image) for tiny training runs."""
    content = root / "content"
    content.mkdir()
    for i in range(4):
        write_photo(content / f"photo{i}.png", i)
    style = root / "style.jpg"
    write_photo(style, 99, size=(64, 64))
    return content, style


def train_flags(content, style, model_dir, **extra):
    """train.py flags of a tiny run (random VGG, 32 px, 4 steps), `extra` overriding."""
    args = {
        "style_image": style,
        "content_images": content,
        "model_dir": model_dir,
        "vgg_weights": "random",
        "image_size": 32,
        "batch_size": 2,
        "train_steps": 4,
        "save_every": 2,
        "log_every": 2,
        "verbose": 0,
    }
    args.update(extra)
    return [f"--{k}={v}" for k, v in args.items()]


def run_command(*args, env=None, timeout=300, **kwargs):
    """Runs `python ARGS...` from the repository root; the CompletedProcess."""
    return subprocess.run(
        [sys.executable, *map(str, args)],
        env=env or COMMAND_ENV,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


def run_train_in_process(args, capfd):
    """`train.py ARGS...` run in this process: a `subprocess.CompletedProcess`
    (exit code, stdout, stderr), as `run_command(TRAIN, ...)` answers.

    The same `commands.train.main` and `cli.run` as the real command, with
    absl's flags reset first, so a run costs no TensorFlow start-up. The
    subprocess runs (`run_command(TRAIN, ...)`) keep guarding the real
    entry point: its start-up, signals and exit codes.
    """
    import signal

    from absl import flags

    from adjustable_style.commands import train

    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    flags.FLAGS.unparse_flags()
    argv = sys.argv
    sys.argv = ["train.py", *map(str, args)]
    capfd.readouterr()
    try:
        train.main(program="train.py")
        code = 0
    except SystemExit as done:
        code = done.code or 0
    finally:
        sys.argv = argv
        flags.FLAGS.unparse_flags()
        signal.signal(signal.SIGTERM, handlers[0])
        signal.signal(signal.SIGINT, handlers[1])
    out, err = capfd.readouterr()
    return subprocess.CompletedProcess(["train.py", *map(str, args)], code, out, err)


def write_png_header(path, width, height):
    """A PNG that declares width x height but holds no pixels: a header to refuse.

    Tests ask for one past a size limit with it, without allocating the image.
    """
    import struct
    import zlib

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))


def write_keras_model_that_is_not_a_stylizer(path):
    """A valid `.keras` file of a model that takes images but is no stylizer."""
    import keras

    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(3, 1, name="mixer")(inputs), name="other")
    model.save(path)
    return str(path)


# Debian's Chromium, driven by Playwright (never `playwright install`, which
# downloads a browser): the demo's page and the exported web page.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FAKE_CAMERA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


def browser_or_skip():
    """Playwright's `sync_playwright`, or a skip that says what is missing."""
    import pytest

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install playwright)")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    return sync_playwright
