r"""Stylize images with an adjustable (or base) style transfer model.

    python stylize.py --content=photo.jpg --output=out.png --alpha=0.2,1,0.5

The same as the `adjustable-style-stylize` command; see
adjustable_style/commands/stylize.py and docs/stylize_and_export.md.
"""

from adjustable_style.commands import stylize

if __name__ == "__main__":
    stylize.main("stylize.py")
