r"""`adjustable-style-stylize` (and `stylize.py`): stylize images with a model.

    adjustable-style-stylize --model=runs/painting --content=photo.jpg \
        --output=out.png --alpha=0.2,1,0.5
    adjustable-style-stylize --content=photos/ --output=out/ --random_alpha \
        --num_samples=4 --seed=7
    adjustable-style-stylize --content=photo.jpg --output=fig3.png --sweep
    adjustable-style-stylize --content=photo.jpg --output=walk.gif --animate

Every output line prints the flags that reproduce it. Every flag is a field
of `stylize.options.Options`; see docs/stylize_and_export.md.
"""

from adjustable_style import cli, dataclass_flags
from adjustable_style.stylize import pictures as stylize
from adjustable_style.stylize.options import Options

dataclass_flags.define_flags(Options, __name__)


def _main(argv):
    cli.check_no_arguments(argv)
    stylize.run(dataclass_flags.from_flags(Options))


def main(program="adjustable-style-stylize"):
    cli.run(_main, program, flags_of=__name__)
