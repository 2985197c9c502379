r"""Convert a stylizer to TFLite at a fixed input size, checked against Keras.

    python export/tflite.py --model=starry_night --output=starry_night.tflite

The same as `adjustable-style-export tflite`; see
adjustable_style/commands/export_tflite.py and docs/stylize_and_export.md.
"""

import os
import sys

# Run as `python export/tflite.py`, Python puts export/ first on the path;
# put the repository there instead, so that this checkout's
# `adjustable_style` imports and this folder's names shadow nothing.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from adjustable_style.commands import export_tflite  # noqa: E402

if __name__ == "__main__":
    export_tflite.main("export/tflite.py")
