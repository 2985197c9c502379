r"""Convert a stylizer to ONNX (dynamic height and width), checked in onnxruntime against Keras.

    python export/onnx.py --model=starry_night --output=stylizer.onnx

The same as `adjustable-style-export onnx`; see
adjustable_style/commands/export_onnx.py and docs/stylize_and_export.md.
"""

import os
import sys

# Run as `python export/onnx.py`, Python puts export/ first on the path;
# put the repository there instead, so that this checkout's
# `adjustable_style` imports and this folder's names shadow nothing.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from adjustable_style.commands import export_onnx  # noqa: E402

if __name__ == "__main__":
    export_onnx.main("export/onnx.py")
