r"""Stylize images with an adjustable (or base) style transfer model.

    python stylize.py --model=runs/painting --content=photo.jpg \
        --output=out.png --alpha=0.2,1,0.5
    python stylize.py --content=photos/ --output=out/ --random_alpha \
        --num_samples=4 --seed=7
    python stylize.py --content=photo.jpg --output=fig3.png --sweep
    python stylize.py --content=photo.jpg --output=walk.gif --animate

Every output line prints the flags that reproduce it. See
docs/stylize_and_export.md; the logic lives in adjustable_style/stylize.py.
"""

import dataclasses

from absl import flags

from adjustable_style import cli, model_files
from adjustable_style import stylize as stylize_lib

FLAGS = flags.FLAGS
_D = stylize_lib.Options()

flags.DEFINE_string(
    "model", _D.model,
    "A .keras file, a training model folder (model.keras + model.json), a "
    "SavedModel folder written by export/saved_model.py, or the name of a "
    f"shipped model (see --list_models). Default: {model_files.DEFAULT_MODEL}.")
flags.DEFINE_string(
    "content", _D.content,
    "Content image(s): a file, a folder (its images, not recursive), a glob "
    "('photos/*.jpg'), or a comma-separated list of those. Default: a bundled "
    "example photo (adjustable_style/examples/chelsea.png).")
flags.DEFINE_string(
    "output", _D.output,
    "A file (.png, .jpg, .webp, .bmp; for --animate .gif, .webp or .mp4) for "
    "one output, or a folder (a name without an extension; made if missing) "
    "where outputs are named after their content images.")
flags.DEFINE_string(
    "alpha", _D.alpha,
    "Style weight per style layer, each in [0, 1]: '0.2,1,0.5' in layer "
    "order, one number for every layer, or 'block2_conv2=0.2,...' (layers "
    "not named stay 1). Default: 1 for every layer.")
flags.DEFINE_bool("random_alpha", _D.random_alpha,
                  "Draw alpha ~ U(0, 1) per layer for each sample.")
flags.DEFINE_integer("num_samples", _D.num_samples,
                     "Outputs per content image (with --random_alpha and/or "
                     "--content_noise).")
flags.DEFINE_integer(
    "seed", _D.seed,
    "Seed of --random_alpha, --content_noise and --animate; sample k of a run "
    "equals --seed=SEED+k --num_samples=1. Default: a fresh random seed; every "
    "output line prints the flags that reproduce it.")
flags.DEFINE_bool(
    "content_noise", _D.content_noise,
    "Multiply the content by a random mask with a few soft dark spots before "
    "stylizing, to vary where style elements go (the paper's section 5.3).")
flags.DEFINE_integer(
    "noise_points", _D.noise_points,
    "Dark spots of --content_noise, 1..9. Default: random in 1..9.")
flags.DEFINE_float(
    "noise_sigma", _D.noise_sigma,
    "Blur radius (Gaussian sigma) of the spots, in pixels. Default: 5% of the "
    "shorter image side.")
flags.DEFINE_integer(
    "max_size", _D.max_size,
    "Shrink images so that their long side is at most this many pixels "
    "before stylizing (the output has that size); 0 = full size. Images over "
    "2048x2048 are stylized one layer at a time in strips: the same result "
    "in bounded memory (about 0.2 KB per pixel).")
flags.DEFINE_integer("max_pixels", _D.max_pixels,
                     "Refuse content images with more pixels (0 = no limit).")
flags.DEFINE_integer("batch_size", _D.batch_size,
                     "Images per forward pass (samples, sweep cells, frames).")
flags.DEFINE_bool(
    "sweep", _D.sweep,
    "Write the paper's Figure 3 as one image: a row per style layer, its "
    "alpha going 0 -> 1 across the columns, the others at --sweep_fixed.")
flags.DEFINE_integer("sweep_steps", _D.sweep_steps,
                     "Columns of --sweep (alphas from 0 to 1).")
flags.DEFINE_string(
    "sweep_fixed", _D.sweep_fixed,
    "Alpha of the layers a --sweep row does not vary, in --alpha's forms "
    "(layers not named are 0). Default: 0.")
flags.DEFINE_list(
    "sweep_layers", _D.sweep_layers,
    "Two style layers, e.g. block2_conv2,block4_conv4: a --sweep_steps^2 "
    "grid (the paper's Figure 9), the first layer growing down, the second "
    "right. Implies --sweep.")
flags.DEFINE_bool("sweep_labels", _D.sweep_labels,
                  "Label the --sweep rows and columns with their alphas.")
flags.DEFINE_bool(
    "animate", _D.animate,
    "Write an animation of a smooth, looping random walk through alpha space "
    "(random keyframes 1.5 s apart, eased; GIF or WebP with Pillow, MP4 "
    "needs imageio[ffmpeg]).")
flags.DEFINE_integer("frames", _D.frames, "Frames of --animate.")
flags.DEFINE_float("fps", _D.fps, "Frames per second of --animate.")
flags.DEFINE_bool("list_models", _D.list_models,
                  "Print the shipped models, their style and training summary, "
                  "and exit.")


def main(argv):
    if len(argv) > 1:
        raise cli.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    options = stylize_lib.Options(**{
        field.name: FLAGS[field.name].value
        for field in dataclasses.fields(stylize_lib.Options)})
    stylize_lib.run(options)


if __name__ == "__main__":
    cli.run(main, "stylize.py")
