r"""`adjustable-style-train` (and `train.py`): train an adjustable or base model.

    adjustable-style-train --style_image=painting.jpg --content_images=photos/ \
        --model_dir=runs/painting --vgg_weights=vgg19.weights.h5

Rerunning the same command resumes from the newest checkpoint in
--model_dir. With KERAS_BACKEND=jax or torch it trains on that backend,
TensorFlow not needed (see `run_backends`). `--flagfile=FILE` reads flags from a file. Every flag is a
field of `training.config.TrainConfig`, which holds its default and help.
"""

from adjustable_style import cli, dataclass_flags
from adjustable_style.training.config import TrainConfig

dataclass_flags.define_flags(TrainConfig, __name__)


def _main(argv):
    cli.check_no_arguments(argv)
    config = dataclass_flags.from_flags(TrainConfig)
    config.check_values()  # Before TensorFlow starts: a bad value costs no start-up.
    if cli.keras_backend() != "tensorflow":
        # Runs where TensorFlow is not installed: nothing on this path imports it.
        from adjustable_style.training import run_backends as backend_training

        backend_training.train(config)
        return
    cli.quiet_tensorflow_import()
    from adjustable_style.training import run_tf as training

    training.train(config)


def main(program="adjustable-style-train"):
    cli.run(_main, program, flags_of=__name__)
