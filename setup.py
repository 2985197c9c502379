"""Adjustable real-time style transfer (Babaeizadeh & Ghiasi, ICLR 2020)."""

import setuptools

setuptools.setup(
    name="adjustable_style",
    version="0.1.0",
    description=(
        "Fast feed-forward style transfer whose per-layer style weights can be "
        "adjusted after training."
    ),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=setuptools.find_packages(include=["adjustable_style", "adjustable_style.*"]),
    include_package_data=True,
    package_data={
        "adjustable_style": [
            "models/*",
            "models/**/*",
            "examples/*",
            "demo/page/*",
            "export/web_page/*",
        ]
    },
    # What the scripts at the top of the repository do, on the PATH.
    entry_points={
        "console_scripts": [
            "adjustable-style-train = adjustable_style.commands.train:main",
            "adjustable-style-stylize = adjustable_style.commands.stylize:main",
            "adjustable-style-export = adjustable_style.commands.export:main",
            "adjustable-style-demo = adjustable_style.commands.demo:main",
        ],
    },
    install_requires=[
        "tensorflow>=2.16",
        "keras>=3.0",
        "tensorboard",
        "numpy",
        "pillow",
        "absl-py",
    ],
    extras_require={
        # playwright drives Debian's Chromium in tests/test_demo.py (never
        # `playwright install`; .ci/run installs the chromium package).
        # jax (its CPU wheel) lets tests/test_backends.py run the model and
        # its training under the JAX backend. torch is not here: PyPI's
        # Linux wheel brings CUDA (gigabytes); with torch installed
        # (`pip install torch`, or its CPU wheel), the same tests run under
        # the PyTorch backend, and skip without it.
        # tensorflow-hub 0.16 imports pkg_resources, which setuptools 81
        # dropped.
        "test": [
            "pytest",
            "pytest-xdist",
            "scipy",
            "onnx",
            "playwright",
            "tensorflow-hub",
            "setuptools<81",
            "tensorflow-datasets",
            "jax",
            "imageio-ffmpeg",
            "tf2onnx",
            "onnxruntime",
        ],
        # stylize.py on video content (.mp4, .mov, .mkv, .webm, .avi, GIF):
        # imageio-ffmpeg's wheel carries an ffmpeg binary that decodes,
        # encodes and copies the audio track.
        "video": ["imageio-ffmpeg"],
        # The JAX backend: KERAS_BACKEND=jax. Its CPU wheel; on GPUs, install
        # jax[cuda12] (or the machine's own JAX) instead.
        "jax": ["jax"],
        # train.py --content_tfds reads content photos from TFDS; stylizing,
        # exporting and training on image folders do not need it (nor the
        # pyarrow and friends it brings).
        "tfds": ["tensorflow-datasets"],
        "convert": ["onnx"],
        # export/onnx.py: tf2onnx converts, onnxruntime checks (and runs) the
        # result; neither is needed to stylize, train or export otherwise.
        "onnx": ["tf2onnx", "onnxruntime"],
        # demo.py needs only the base dependencies (a standard-library HTTP
        # server and a self-contained page); the extra keeps
        # `pip install -e '.[demo]'` working and is where any future need goes.
        "demo": [],
        # benchmarks/training_step.py (and torch_reference.py) time our step
        # against the same step written in PyTorch; nothing else needs it.
        "bench": ["torch"],
    },
)
