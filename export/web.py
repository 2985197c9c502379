r"""Export a static page that stylizes in the browser (onnxruntime-web), with no server of ours.

    npm ci --prefix web                 # once: the browser runtime
    python export/web.py --model=starry_night --output=page

The same as `adjustable-style-export web`; see
adjustable_style/commands/export_web.py and docs/web.md.
"""

import os
import sys

# Run as `python export/web.py`, Python puts export/ first on the path;
# put the repository there instead, so that this checkout's
# `adjustable_style` imports and this folder's names shadow nothing.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from adjustable_style.commands import export_web  # noqa: E402

if __name__ == "__main__":
    export_web.main("export/web.py")
