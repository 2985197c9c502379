r"""The README's alpha-map picture: large strokes in the sky only.

    python experiments/alpha_map_example.py [--output=docs/alpha_map_sky.jpg]

A bundled photo (`rocket.jpg`, a launch pad at dusk) gets a sky mask made
from its colours (blue clearly above red, above the ground line, softened),
saved as `docs/alpha_map_sky_mask.png`. Then the library behind
`stylize.py` makes, side by side: uniform alpha 0.2; uniform alpha with
block4_conv4 at 1 (the largest style elements everywhere); and the mask,
with block4_conv4 = 1 in the sky and alpha 0.2 elsewhere, which is

    python stylize.py --content=adjustable_style/examples/rocket.jpg \
        --alpha_map=docs/alpha_map_sky_mask.png --alpha=0.2,0.2,1 \
        --alpha_outside=0.2 --output=out.png
"""

if __name__ == "__main__":
    import _path  # noqa: F401  (the repository on sys.path)

import argparse
import os

import numpy as np

from adjustable_style import alpha_maps, images
from adjustable_style.inference import runtime
from adjustable_style.stylize import figures
from experiments.harness import REPO

PHOTO = os.path.join(REPO, "adjustable_style", "examples", "rocket.jpg")
SKY = "0.2,0.2,1"
GROUND = "0.2"


def sky_mask(photo):
    """1 where the photo is sky (blue well above red, above the ground), softened."""
    from PIL import Image, ImageFilter

    height = photo.shape[0]
    sky = (photo[..., 2] - photo[..., 0] > 0.12) & (np.arange(height)[:, None] < 0.85 * height)
    soft = Image.fromarray((sky * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(2))
    return np.asarray(soft)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default=os.path.join(REPO, "docs", "alpha_map_sky.jpg"))
    parser.add_argument("--mask", default=os.path.join(REPO, "docs", "alpha_map_sky_mask.png"))
    parser.add_argument("--model", default="starry_night")
    parser.add_argument("--size", type=int, default=384)
    args = parser.parse_args()
    from PIL import Image

    from adjustable_style import alpha_vectors as alpha_lib

    photo = images.load_image(PHOTO, None, args.size)
    Image.fromarray(sky_mask(photo)).save(args.mask)
    model = runtime.load_model(args.model, "float32")
    names = model.style_layers
    sky, ground = (alpha_lib.parse_alpha(a, names) for a in (SKY, GROUND))
    mask = alpha_maps.load_alpha_map(args.mask, names)
    alpha_map = alpha_maps.blend_mask(mask, sky, ground)
    cells = [
        photo,
        model.stylize(photo[None], ground[None])[0],
        model.stylize(photo[None], sky[None])[0],
        model.stylize_map(photo[None], alpha_map)[0],
    ]
    labels = ["photo", f"alpha = {GROUND}", f"alpha = {SKY}", f"map: sky {SKY}, rest {GROUND}"]
    picture = figures.compose_grid(np.stack(cells)[None], None, labels)
    images.save_image(picture, args.output)
    print(f"{args.output}: {', '.join(labels)}; mask {args.mask}")


if __name__ == "__main__":
    main()
