r"""Export a stylizer as a SavedModel for tf.saved_model.load / hub.load / TF Serving.

    python export/saved_model.py --model=starry_night --output=exported/starry_night

The same as `adjustable-style-export saved_model`; see
adjustable_style/commands/export_saved_model.py and docs/stylize_and_export.md.
"""

import os
import sys

# Run as `python export/saved_model.py`, Python puts export/ first on the path;
# put the repository there instead, so that this checkout's
# `adjustable_style` imports and this folder's names shadow nothing.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from adjustable_style.commands import export_saved_model  # noqa: E402

if __name__ == "__main__":
    export_saved_model.main("export/saved_model.py")
