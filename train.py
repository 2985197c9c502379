r"""Train an adjustable (or base) style transfer model.

    python train.py --style_image=painting.jpg --content_images=photos/ \
        --model_dir=runs/painting --vgg_weights=vgg19.weights.h5

Rerunning the same command resumes from the newest checkpoint in
--model_dir. `--flagfile=FILE` reads flags from a file. See README.md.
"""

from absl import flags

from adjustable_style import cli, images

FLAGS = flags.FLAGS

flags.DEFINE_string("style_image", None, "The style image (painting or texture).")
flags.DEFINE_string(
    "content_images", None,
    "Content photos: a folder, a glob, or a comma-separated list of them.")
flags.DEFINE_string(
    "content_tfds", None,
    "A TFDS dataset with an image feature as the content source, e.g. "
    "coco/2017, imagenet2012, dtd (instead of --content_images).")
flags.DEFINE_string("tfds_data_dir", None, "TFDS data directory.")
flags.DEFINE_string("tfds_split", "train", "TFDS split to read.")
flags.DEFINE_string(
    "model_dir", None,
    "Where checkpoints, TensorBoard logs and the final model.keras go; a run "
    "resumes from the checkpoints found here.")
flags.DEFINE_string(
    "init_from", None,
    "Start from a trained stylizer's weights (T and Lambda; a fresh "
    "optimizer): a shipped model's name (e.g. starry_night), a .keras file "
    "or a run folder. Fine-tunes it to --style_image. Ignored when "
    "--model_dir already has a checkpoint: the run resumes from that.")
flags.DEFINE_integer("train_steps", 200_000, "Total optimizer steps (the paper: 200k).")
flags.DEFINE_integer("batch_size", 8, "Global batch size (all replicas).")
flags.DEFINE_integer("image_size", 256, "Side of the square content crops.")
flags.DEFINE_integer(
    "style_image_size", None,
    "Shorter side of the style image when its Gram matrices are computed "
    "(default: --image_size).")
flags.DEFINE_float("learning_rate", 1e-3, "Adam learning rate.")
flags.DEFINE_enum("loss_network", "vgg19", ["vgg19", "vgg16"], "The VGG loss network.")
flags.DEFINE_string(
    "vgg_weights", "imagenet",
    "'imagenet' (Keras download, needs internet), the path of a Keras "
    "weights file (make one offline with "
    "`python -m adjustable_style.vgg_weights`), or 'random' (tests only: "
    "the losses then mean nothing).")
flags.DEFINE_string("content_layer", None, "Override the content layer (default: the paper's).")
flags.DEFINE_list("style_layers", None, "Override the style layers (default: the paper's).")
flags.DEFINE_enum("model_type", "adjustable", ["adjustable", "base"],
                  "adjustable: alpha sampled per sample; base: Johnson et al. "
                  "with fixed --style_weights.")
flags.DEFINE_list("style_weights", None,
                  "Fixed style weights w_l of the base model, one per style layer.")
flags.DEFINE_float("content_weight", 1.0, "alpha_c, the content loss weight.")
flags.DEFINE_float(
    "ema_decay", 0.99,
    "Decay of the loss EMAs of the paper's Eq. 8. 1 freezes them at their "
    "first values, or, on resume, at the checkpoint's.")
flags.DEFINE_float(
    "alpha_edge_probability", 0.0,
    "Chance that each sampled alpha_l is snapped to 0 or 1 (the paper: 0, "
    "plain uniform). Short runs learn alpha = 0 and one-layer-alone settings "
    "much sooner with it; the shipped models used 0.75, then 0.25 in their "
    "last stage (experiments/train_shipped_models.sh).")
flags.DEFINE_integer("save_every", 1000, "Steps between checkpoints.")
flags.DEFINE_integer("log_every", 100, "Steps between progress/TensorBoard updates.")
flags.DEFINE_enum("strategy", "default", ["default", "mirrored", "multi_worker", "tpu"],
                  "tf.distribute strategy; multi_worker reads TF_CONFIG.")
flags.DEFINE_string("tpu", "", "TPU address for --strategy=tpu.")
flags.DEFINE_bool("mixed_precision", False,
                  "Compute in float16 (GPU) or bfloat16 (TPU, and CPUs with "
                  "AMX or AVX512_BF16; other CPUs fall back to float32 with "
                  "a warning, since they emulate bfloat16 slowly).")
flags.DEFINE_bool("jit_compile", False, "Compile the training step with XLA.")
flags.DEFINE_integer("seed", 0, "Seeds data order, augmentation and alpha draws.")
flags.DEFINE_integer("max_pixels", images.DEFAULT_MAX_PIXELS,
                     "Skip content images with more pixels (0 = no limit).")
flags.DEFINE_integer("verbose", 1, "Keras progress output: 0 none, 1 bar, 2 a line per window.")


def main(argv):
    from adjustable_style import cli as cli_lib
    from adjustable_style import stylize

    stylize.quiet_tensorflow_import()
    from adjustable_style import training

    if len(argv) > 1:
        raise cli_lib.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    try:
        weights = [float(w) for w in FLAGS.style_weights] if FLAGS.style_weights else None
    except ValueError:
        raise cli_lib.UsageError(
            f"--style_weights must be numbers, got {','.join(FLAGS.style_weights)}") from None
    config = training.TrainConfig(
        style_image=FLAGS.style_image, model_dir=FLAGS.model_dir,
        content_images=FLAGS.content_images, content_tfds=FLAGS.content_tfds,
        tfds_data_dir=FLAGS.tfds_data_dir, tfds_split=FLAGS.tfds_split,
        train_steps=FLAGS.train_steps, batch_size=FLAGS.batch_size,
        image_size=FLAGS.image_size, style_image_size=FLAGS.style_image_size,
        learning_rate=FLAGS.learning_rate, loss_network=FLAGS.loss_network,
        vgg_weights=FLAGS.vgg_weights, content_layer=FLAGS.content_layer,
        style_layers=FLAGS.style_layers, model_type=FLAGS.model_type,
        style_weights=weights, content_weight=FLAGS.content_weight,
        ema_decay=FLAGS.ema_decay,
        alpha_edge_probability=FLAGS.alpha_edge_probability,
        save_every=FLAGS.save_every,
        log_every=FLAGS.log_every, strategy=FLAGS.strategy, tpu=FLAGS.tpu,
        mixed_precision=FLAGS.mixed_precision, jit_compile=FLAGS.jit_compile,
        seed=FLAGS.seed, max_pixels=FLAGS.max_pixels or None,
        init_from=FLAGS.init_from,
        verbose=FLAGS.verbose)
    training.train(config)


if __name__ == "__main__":
    cli.run(main, "train.py")
