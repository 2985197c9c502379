"""What a training run is asked to do: `TrainConfig`, its defaults and checks.

`TrainConfig` is the one place where a training setting is named, given its
default and explained: `adjustable-style-train` (and `train.py`) make one
absl flag per field from the field's type, default and `help` metadata (see
`commands.dataclass_flags`), and `training.run_tf.train` takes the config. Its
`validate` refuses every setting that cannot work, with a one-line message,
before any model is built.

This module imports neither TensorFlow nor Keras, so that `--help` and the
flags are there at once.
"""

import dataclasses
import json
import math
import numbers
import os
from typing import Optional, Sequence

from adjustable_style import images, limits, model_files
from adjustable_style.errors import UsageError, check_int

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
MODEL_TYPES = ("adjustable", "base")
# networks.CONV_INITIALIZERS, named here so that the flags need no Keras.
CONV_INITIALIZERS = ("normal_0.01", "glorot_uniform")
LOSS_NETWORKS = ("vgg19", "vgg16")
# networks.ARCHITECTURES' names, named here for the same reason.
ARCHITECTURES = ("paper", "lite")
# How losses are scaled before their weights: the paper's Eq. 8, or raw.
LOSS_NORMALIZATIONS = ("eq8", "none")
# The network downsamples by 4 and VGG's block 4 by 8 more.
MIN_IMAGE_SIZE = 16
# --vgg_weights values that are not files.
NAMED_VGG_WEIGHTS = ("imagenet", "random")


def _setting(default, help, **metadata):
    """A field with its flag's help (and `choices`, for an enum flag)."""
    return dataclasses.field(default=default, metadata={"help": help, **metadata})


@dataclasses.dataclass
class TrainConfig:
    """Everything a training run needs; each field is a flag of train.py."""

    style_image: Optional[str] = _setting(None, "The style image (painting or texture).")
    model_dir: Optional[str] = _setting(
        None,
        "Where checkpoints, TensorBoard logs and the final model.keras go; a run "
        "resumes from the checkpoints found here.",
    )
    content_images: Optional[str] = _setting(
        None, "Content photos: a folder, a glob, or a comma-separated list of them."
    )
    content_tfds: Optional[str] = _setting(
        None,
        "A TFDS dataset with an image feature as the content source, e.g. "
        "coco/2017, imagenet2012, dtd (instead of --content_images).",
    )
    tfds_data_dir: Optional[str] = _setting(None, "TFDS data directory.")
    tfds_split: str = _setting("train", "TFDS split to read.")
    init_from: Optional[str] = _setting(
        None,
        "Start from a trained stylizer's weights (T and Lambda; a fresh "
        "optimizer): a shipped model's name (e.g. starry_night), a .keras file "
        "or a run folder. Fine-tunes it to --style_image. Ignored when "
        "--model_dir already has a checkpoint: the run resumes from that.",
    )
    teacher: Optional[str] = _setting(
        None,
        "Distill instead of the paper's objective: train the stylizer to give what this "
        "trained adjustable stylizer gives, T_teacher(c, alpha), over alphas drawn as "
        "training draws them (a shipped name, a .keras file or a run folder). Losses: L1 "
        "on RGB in [0, 1] and the VGG features at the content layer, normalized as Eq. 8 "
        "does. The teacher's style layers are kept; --style_image defaults to the "
        "style.jpg beside it.",
    )
    architecture: str = _setting(
        "paper",
        "T's shape: paper (Table 2) or lite (half the widths, about 3x faster; "
        "docs/speed.md). Unused on resume or with --init_from, whose model has one.",
        choices=ARCHITECTURES,
    )
    feature_weight: float = _setting(
        1.0, "With --teacher: weight of the feature loss against the pixel loss's 1."
    )
    train_steps: int = _setting(
        200_000, f"Total optimizer steps (the paper: 200k), at most {limits.MAX_TRAIN_STEPS}."
    )
    batch_size: int = _setting(8, f"Global batch size (all replicas), 1..{limits.MAX_BATCH_SIZE}.")
    image_size: int = _setting(
        256,
        f"Side of the square content crops, {MIN_IMAGE_SIZE}..{limits.MAX_SQUARE_SIDE} "
        f"(a crop of at most {limits.MAX_PIXELS / 1e6:g} megapixels).",
    )
    style_image_size: Optional[int] = _setting(
        None,
        "Shorter side of the style image when its Gram matrices are computed "
        f"(default: --image_size), {MIN_IMAGE_SIZE}..{limits.MAX_SQUARE_SIDE}.",
    )
    learning_rate: float = _setting(1e-3, "Adam learning rate.")
    loss_network: str = _setting("vgg19", "The VGG loss network.", choices=LOSS_NETWORKS)
    vgg_weights: str = _setting(
        "imagenet",
        "'imagenet' (Keras download, needs internet), the path of a Keras "
        "weights file (make one offline with "
        "`python -m adjustable_style.vgg.weights`), or 'random' (tests only: "
        "the losses then mean nothing).",
    )
    content_layer: Optional[str] = _setting(
        None, "Override the content layer (default: the paper's)."
    )
    style_layers: Optional[Sequence[str]] = _setting(
        None, "Override the style layers (default: the paper's)."
    )
    model_type: str = _setting(
        "adjustable",
        "adjustable: alpha sampled per sample; base: Johnson et al. with fixed --style_weights.",
        choices=MODEL_TYPES,
    )
    style_weights: Optional[Sequence[float]] = _setting(
        None,
        "Fixed style weights w_l of the base model, one per style layer. They "
        "weight the Eq. 8-normalized style losses, as alpha does in the "
        "adjustable model (not Johnson et al.'s raw losses), so base(w) "
        "trains for what the adjustable model gives at alpha = w.",
    )
    conv_initializer: str = _setting(
        CONV_INITIALIZERS[0],
        "Initializer of T's convolution kernels for a run from scratch: the "
        "paper's N(0, 0.01), or Keras' Glorot uniform (lower losses after 200 "
        "steps from scratch in experiments/initialization.py). Unused with "
        "--init_from or on resume, which take trained weights.",
        choices=CONV_INITIALIZERS,
    )
    loss_normalization: str = _setting(
        "eq8",
        "How the losses are scaled before the weights apply: eq8 divides each "
        "by its running mean (the paper's Eq. 8; --content_weight, alpha and "
        "--style_weights then weigh losses of like size); none takes them raw, "
        "as Johnson et al. (weights then depend on each layer's loss scale).",
        choices=LOSS_NORMALIZATIONS,
    )
    content_weight: float = _setting(1.0, "alpha_c, the content loss weight.")
    ema_decay: float = _setting(
        0.99,
        "Decay of the loss EMAs of the paper's Eq. 8. 1 freezes them at their "
        "first values, or, on resume, at the checkpoint's.",
    )
    loss_ema_from: Optional[str] = _setting(
        None,
        "Start Eq. 8's loss EMAs at a trained model's (the `ema` of its model.json: "
        "a shipped name, a .keras file or a run folder trained on the same style "
        "image, loss network and layers) instead of at the first batch's losses. "
        "With --ema_decay=1 they stay there, so runs share one objective: a base "
        "model with --style_weights=w then trains exactly the adjustable model's "
        "objective at alpha = w (experiments/train_figure6.sh). Wins over the EMAs "
        "--init_from takes over; a resumed run keeps its checkpoint's.",
    )
    alpha_edge_probability: float = _setting(
        0.0,
        "Chance that each sampled alpha_l is snapped to 0 or 1 (the paper: 0, "
        "plain uniform). Short runs learn alpha = 0 and one-layer-alone settings "
        "much sooner with it; the shipped models' fine-tuning stages used 0.75 "
        "(experiments/train_shipped_models.sh).",
    )
    zero_alpha_color_weight: float = _setting(
        0.0,
        "Not in the paper: weight of the squared shift of the mean chroma (Cb, Cr, "
        "levels of 255) from the photo's, on the samples drawn at alpha = 0. T's "
        "instance norms keep the photo's mean colour from the output, so this moves "
        "the one colour alpha = 0 paints toward the average photo's (docs/training.md). "
        "Adjustable model only.",
    )
    save_every: int = _setting(
        1000, f"Steps between checkpoints, at most {limits.MAX_TRAIN_STEPS}."
    )
    log_every: int = _setting(
        100, f"Steps between progress/TensorBoard updates, at most {limits.MAX_TRAIN_STEPS}."
    )
    strategy: str = _setting(
        "default", "tf.distribute strategy; multi_worker reads TF_CONFIG.", choices=STRATEGIES
    )
    tpu: str = _setting(
        "",
        "The TPU of --strategy=tpu (required with it): its name, grpc://HOST:PORT, or "
        "'local' on a TPU VM.",
    )
    mixed_precision: bool = _setting(
        False,
        "Compute in float16 (GPU) or bfloat16 (TPU, and CPUs with AMX or "
        "AVX512_BF16; other CPUs fall back to float32 with a warning, since "
        "they emulate bfloat16 slowly).",
    )
    jit_compile: bool = _setting(False, "Compile the training step with XLA.")
    seed: int = _setting(
        0,
        f"Seeds data order, augmentation and alpha draws, 0..{limits.MAX_SEED} (as stylize.py's).",
    )
    max_pixels: Optional[int] = _setting(
        images.DEFAULT_MAX_PIXELS,
        f"Skip content images with more pixels (0 = no limit), at most {limits.MAX_PIXELS_FLAG}.",
    )
    verbose: int = _setting(1, "Keras progress output: 0 none, 1 bar, 2 a line per window.")

    def loss_spec(self):
        """The loss network's layers this run uses (`loss_network.LossNetworkSpec`)."""
        from adjustable_style.model import loss_network

        return loss_network.default_spec(self.loss_network, self.content_layer, self.style_layers)

    def validate(self):
        """Refuses settings that cannot work, each with a one-line message.

        Also puts `style_weights` (flag text or numbers) in its float form.
        Checks the files it names exist, so that a typo fails at once, not
        after the loss network has loaded.
        """
        self.check_values()
        self.check_files()

    def check_values(self):
        """The checks of `validate` that need nothing but the values (no file, no import)."""
        if bool(self.content_images) == bool(self.content_tfds):
            raise UsageError("give exactly one of --content_images and --content_tfds")
        if not self.style_image and not self.teacher:
            raise UsageError("--style_image is required (or --teacher, to distill)")
        if not self.model_dir:
            raise UsageError("--model_dir is required")
        for name in ("train_steps", "save_every", "log_every"):
            if _int(name, getattr(self, name)) < 1:
                raise UsageError(f"--{name} must be at least 1")
            _int(name, getattr(self, name), 1, limits.MAX_TRAIN_STEPS)
        if _int("batch_size", self.batch_size) < 1:
            raise UsageError("--batch_size must be at least 1")
        _int("batch_size", self.batch_size, 1, limits.MAX_BATCH_SIZE)
        for name in ("image_size", "style_image_size"):
            value = getattr(self, name)
            if value is not None and _int(name, value) < MIN_IMAGE_SIZE:
                raise UsageError(f"--{name} must be at least {MIN_IMAGE_SIZE}, got {value}")
            if value is not None:
                _int(name, value, MIN_IMAGE_SIZE, limits.MAX_SQUARE_SIDE)
        limits.check_seed("--seed", self.seed)
        _int("verbose", self.verbose, 0, 2)
        if self.max_pixels is not None and _int("max_pixels", self.max_pixels) < 0:
            raise UsageError(f"--max_pixels must be >= 0, got {self.max_pixels}")
        if self.max_pixels is not None:
            _int("max_pixels", self.max_pixels, 0, limits.MAX_PIXELS_FLAG)
        if not 0.0 <= _number("ema_decay", self.ema_decay) <= 1.0:
            raise UsageError(f"--ema_decay must be in [0, 1], got {self.ema_decay:g}")
        if not _number("content_weight", self.content_weight) >= 0:
            raise UsageError("--content_weight must be a non-negative number")
        if not _number("learning_rate", self.learning_rate) > 0:
            raise UsageError("--learning_rate must be a positive number")
        if not 0.0 <= _number("alpha_edge_probability", self.alpha_edge_probability) <= 1.0:
            raise UsageError("--alpha_edge_probability must be in [0, 1]")
        if self.model_type not in MODEL_TYPES:
            raise UsageError(f"--model_type must be one of {MODEL_TYPES}")
        if not _number("zero_alpha_color_weight", self.zero_alpha_color_weight) >= 0:
            raise UsageError("--zero_alpha_color_weight must be a non-negative number")
        if self.model_type == "base" and self.zero_alpha_color_weight:
            raise UsageError(
                "--zero_alpha_color_weight is for --model_type=adjustable (the base model "
                "draws no alpha)"
            )
        if self.model_type == "base" and self.alpha_edge_probability:
            # The base model draws no alpha; the value would only be recorded.
            raise UsageError(
                "--alpha_edge_probability is for --model_type=adjustable (the base model "
                "draws no alpha)"
            )
        if self.loss_normalization not in LOSS_NORMALIZATIONS:
            raise UsageError(
                f"--loss_normalization must be one of {', '.join(LOSS_NORMALIZATIONS)}"
            )
        if self.strategy not in STRATEGIES:
            raise UsageError(f"--strategy must be one of {STRATEGIES}")
        if self.strategy == "tpu" and not str(self.tpu or "").strip():
            raise UsageError(
                "--strategy=tpu needs --tpu: the TPU's name, grpc://HOST:PORT, or 'local' on "
                "a TPU VM"
            )
        if self.strategy == "multi_worker":
            check_tf_config(os.environ.get("TF_CONFIG"))
        if self.loss_network not in LOSS_NETWORKS:
            raise UsageError(f"--loss_network must be one of {LOSS_NETWORKS}")
        if self.architecture not in ARCHITECTURES:
            raise UsageError(f"--architecture must be one of {', '.join(ARCHITECTURES)}")
        self._check_teacher_values()
        if self.conv_initializer not in CONV_INITIALIZERS:
            raise UsageError(f"--conv_initializer must be one of {', '.join(CONV_INITIALIZERS)}")
        self._validate_style_weights()

    def check_files(self):
        """The checks of `validate` that read files, the loss network's layers and memory."""
        if self.init_from:
            model_files.resolve_model_path(self.init_from)
        if self.teacher:
            self._take_from_teacher()
        if self.loss_ema_from:
            model_files.resolve_model_path(self.loss_ema_from)
        if os.path.isdir(self.style_image):
            raise images.ImageError(
                f"{self.style_image}: is a folder; --style_image takes one image file"
            )
        if not os.path.isfile(self.style_image):
            raise images.ImageError(f"{self.style_image}: style image does not exist")
        self._validate_loss_network()
        self.check_memory()

    def check_memory(self):
        """Refuses a batch or a style image that cannot fit in this machine's memory.

        A lower bound from the flags and the style image's header: VGG's
        activations of one training batch, and of the style image at
        --style_image_size.
        """
        batch_pixels = self.batch_size * self.image_size**2
        limits.check_memory(
            f"training at --batch_size={self.batch_size} --image_size={self.image_size}",
            batch_pixels * limits.TRAINING_BYTES_PER_PIXEL,
        )
        size = images.header_size(self.style_image)
        if size is None:
            return  # Unreadable: loading it says why.
        side = self.style_image_size or self.image_size
        scale = side / min(size)
        pixels = round(size[0] * scale) * round(size[1] * scale)
        limits.check_memory(
            f"{self.style_image}: the style image at --style_image_size={side} "
            f"({round(size[0] * scale)}x{round(size[1] * scale)})",
            pixels * limits.TRAINING_BYTES_PER_PIXEL + size[0] * size[1] * limits.FLOAT_PIXEL_BYTES,
        )

    def _check_teacher_values(self):
        if not _number("feature_weight", self.feature_weight) >= 0:
            raise UsageError("--feature_weight must be a non-negative number")
        if not self.teacher:
            return
        for name, value in (
            ("model_type", self.model_type != "adjustable"),
            ("loss_ema_from", self.loss_ema_from),
            ("zero_alpha_color_weight", self.zero_alpha_color_weight),
        ):
            if value:
                raise UsageError(
                    f"--{name} does not apply with --teacher: distillation trains an "
                    "adjustable stylizer on its teacher's outputs"
                )

    def _take_from_teacher(self):
        """The teacher's style layers and style image, where the flags give none.

        A missing teacher or a base one fails here, in one line, before
        TensorFlow is imported.
        """
        try:
            path = model_files.resolve_model_path(self.teacher)
        except model_files.ModelFileError as error:
            raise UsageError(f"--teacher: {error}") from None
        record = model_files.read_record(path)
        if record.get("model_type") == "base":
            raise UsageError(
                f"--teacher={self.teacher} is a base model (fixed style weights); "
                "distillation needs an adjustable one"
            )
        if not self.style_layers and record.get("style_layers"):
            self.style_layers = list(record["style_layers"])
        if not self.style_image:
            beside = os.path.join(os.path.dirname(path), model_files.STYLE_THUMBNAIL)
            if not os.path.isfile(beside):
                raise UsageError(
                    f"--teacher={self.teacher} has no {model_files.STYLE_THUMBNAIL} beside "
                    "it; pass --style_image (its painting)"
                )
            self.style_image = beside

    def _validate_style_weights(self):
        if self.model_type == "base" and not self.style_weights:
            raise UsageError("--model_type=base needs --style_weights")
        if self.model_type == "adjustable" and self.style_weights:
            raise UsageError(
                "--style_weights is for --model_type=base; the adjustable model samples alpha"
            )
        if not self.style_weights:
            return
        try:
            weights = [float(w) for w in self.style_weights]
        except (TypeError, ValueError):
            raise UsageError(
                f"--style_weights must be numbers, got {','.join(map(str, self.style_weights))}"
            ) from None
        if not all(math.isfinite(w) and w >= 0 for w in weights):
            raise UsageError("--style_weights must be non-negative numbers")
        self.style_weights = weights

    def _validate_loss_network(self):
        from adjustable_style.model import loss_network

        layers = self.loss_spec().style_layers
        if self.style_weights and len(self.style_weights) != len(layers):
            raise UsageError(
                f"--style_weights has {len(self.style_weights)} values but there "
                f"are {len(layers)} style layers ({','.join(layers)})"
            )
        if self.vgg_weights not in NAMED_VGG_WEIGHTS and not os.path.isfile(self.vgg_weights):
            raise loss_network.LossNetworkError(
                f"VGG weights file {self.vgg_weights!r} does not exist (pass "
                "'imagenet', 'random' or the path of a weights file)"
            )


def _int(name, value, minimum=None, maximum=None):
    return check_int(f"--{name}", value, minimum, maximum)


def check_tf_config(text):
    """Refuses a TF_CONFIG that --strategy=multi_worker cannot read (unset is one worker)."""
    if text is None or not text.strip():
        return
    try:
        config = json.loads(text)
    except ValueError as error:
        raise UsageError(f"TF_CONFIG is not valid JSON ({error})") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if (
        not isinstance(cluster, dict)
        or not cluster
        or not all(isinstance(hosts, list) and hosts for hosts in cluster.values())
    ):
        raise UsageError(
            'TF_CONFIG needs a "cluster" object of job names to lists of host:port, e.g. '
            '{"cluster": {"worker": ["host1:2222", "host2:2222"]}, '
            '"task": {"type": "worker", "index": 0}}'
        )
    if not isinstance(task, dict) or task.get("type") not in cluster:
        raise UsageError(
            f'TF_CONFIG needs a "task" whose "type" is one of the cluster\'s jobs '
            f"({', '.join(cluster)})"
        )
    index = task.get("index", 0)
    hosts = cluster[task["type"]]
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(hosts):
        raise UsageError(
            f'TF_CONFIG\'s task "index" must be in 0..{len(hosts) - 1} (its job '
            f"{task['type']!r} has {len(hosts)} hosts), got {index!r}"
        )


def _number(name, value):
    """`value` as a finite float, or a UsageError naming the flag."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise UsageError(f"--{name} must be a finite number, got {value!r}")
    return float(value)
