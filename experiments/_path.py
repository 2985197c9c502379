"""Lets a script run as `python experiments/NAME.py` import like the tests do.

Python puts the script's folder, experiments/, first on sys.path; there this
folder's modules would be top-level names (`harness`, `plots`) that shadow
others, and `experiments.` and the checkout's `adjustable_style` would not
import. Each script, when run, imports this module first:

    if __name__ == "__main__":
        import _path  # noqa: F401  (the repository on sys.path)

which puts the repository root in experiments/'s place. Imported by the
tests, the scripts skip it: pytest.ini's `pythonpath` has put the
repository on sys.path already.
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0]) == _HERE:
    sys.path[0] = os.path.dirname(_HERE)
