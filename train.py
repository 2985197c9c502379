r"""Train an adjustable (or base) style transfer model.

    python train.py --style_image=painting.jpg --content_images=photos/ \
        --model_dir=runs/painting --vgg_weights=vgg19.weights.h5

The same as the `adjustable-style-train` command; see
adjustable_style/commands/train.py and README.md.
"""

from adjustable_style.commands import train

if __name__ == "__main__":
    train.main("train.py")
