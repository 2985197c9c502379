"""T's initialization: the paper's N(0, 0.01) against Keras' Glorot uniform.

    python experiments/initialization.py --content_images=photos/ \
        --style_image=painting.jpg --vgg_weights=vgg19.weights.h5

Trains the adjustable model from scratch twice, with the same data, seed,
alpha draws and flags, once with each initializer of T's convolutions, and
reports the losses of the last --log_every steps of each run (means over
that window, as the training log shows them). Lambda is initialized the
same way in both. Each run's folder is kept under --output_dir, and
results.md there holds the table and the command.
"""

if __name__ == "__main__":
    import _path  # noqa: F401  (the repository on sys.path)

import json
import os
import shlex
import sys
import time

from absl import flags

from adjustable_style import model_files
from adjustable_style.training import config as train_config

PROGRAM = "experiments/initialization.py"
INITIALIZERS = train_config.CONV_INITIALIZERS

flags.DEFINE_string("content_images", None, "Training photos (folder, glob or list).")
flags.DEFINE_string("style_image", None, "The style image.")
flags.DEFINE_string("vgg_weights", "imagenet", "VGG-19 weights (see train.py).")
flags.DEFINE_integer("train_steps", 200, "Steps per run.")
flags.DEFINE_integer("image_size", 128, "Content crop size.")
flags.DEFINE_integer("batch_size", 2, "Batch size.")
flags.DEFINE_integer("log_every", 50, "The window the final losses average over.")
flags.DEFINE_float("content_weight", 1.0, "alpha_c.")
flags.DEFINE_float("alpha_edge_probability", 0.5, "As in train.py.")
flags.DEFINE_bool("mixed_precision", False, "As in train.py.")
flags.DEFINE_integer("seed", 0, "Seed of both runs.")
flags.DEFINE_string("output_dir", "runs/initialization", "Where the runs and results go.")
FLAGS = flags.FLAGS


def _train(initializer, model_dir):
    from adjustable_style.training import run_tf as training

    training.train(
        training.TrainConfig(
            style_image=FLAGS.style_image,
            model_dir=model_dir,
            content_images=FLAGS.content_images,
            vgg_weights=FLAGS.vgg_weights,
            train_steps=FLAGS.train_steps,
            image_size=FLAGS.image_size,
            batch_size=FLAGS.batch_size,
            log_every=FLAGS.log_every,
            save_every=FLAGS.train_steps,
            content_weight=FLAGS.content_weight,
            alpha_edge_probability=FLAGS.alpha_edge_probability,
            mixed_precision=FLAGS.mixed_precision,
            seed=FLAGS.seed,
            verbose=2,
            conv_initializer=initializer,
        )
    )
    return model_files.read_record(os.path.join(model_dir, model_files.MODEL_FILE))


def main(argv):
    from adjustable_style.cli import UsageError

    if len(argv) > 1:
        raise UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    if not FLAGS.content_images or not FLAGS.style_image:
        raise UsageError("--content_images and --style_image are required")
    for initializer in INITIALIZERS:
        if os.path.exists(os.path.join(FLAGS.output_dir, initializer)):
            raise UsageError(f"{FLAGS.output_dir}/{initializer} exists; pass another --output_dir")
    results = {}
    for initializer in INITIALIZERS:
        started = time.time()
        record = _train(initializer, os.path.join(FLAGS.output_dir, initializer))
        results[initializer] = {
            "final_losses": record["final_losses"],
            "seconds": round(time.time() - started, 1),
        }
    names = ["loss", "content", "style_block2_conv2", "style_block3_conv4", "style_block4_conv4"]
    lines = [
        f"## T's initialization: losses of steps {FLAGS.train_steps - FLAGS.log_every + 1}"
        f"-{FLAGS.train_steps} (mean), from scratch",
        "",
        "    " + " ".join(shlex.quote(a) for a in ["python", PROGRAM] + sys.argv[1:]),
        "",
        "| initializer | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for initializer, result in results.items():
        losses = result["final_losses"]
        lines.append(f"| {initializer} | " + " | ".join(f"{losses[n]:.3f}" for n in names) + " |")
    report = "\n".join(lines) + "\n"
    model_files.atomic_write_bytes(
        os.path.join(FLAGS.output_dir, "results.json"),
        (json.dumps(results, indent=2) + "\n").encode(),
    )
    model_files.atomic_write_bytes(os.path.join(FLAGS.output_dir, "results.md"), report.encode())
    print(report)


if __name__ == "__main__":
    from adjustable_style import cli

    cli.run(main, PROGRAM)
