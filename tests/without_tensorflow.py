"""Runs a Python script as if TensorFlow were not installed.

    python tests/without_tensorflow.py train.py --flag=value ...

TensorFlow is installed where the tests run; the runs on JAX and PyTorch
must work where it is not. An import hook makes `import tensorflow` (and
TensorBoard, which would pull it in) raise ImportError, as on such a
machine, so that any path that imports it fails loudly.
"""

import importlib.abc
import os
import runpy
import sys

BLOCKED = ("tensorflow", "tensorboard", "tf_keras")


class _Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
        return None


if __name__ == "__main__":
    sys.meta_path.insert(0, _Absent())
    script = sys.argv[1]
    sys.argv = sys.argv[1:]
    # As `python SCRIPT` would: the script's folder first on the path.
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    runpy.run_path(script, run_name="__main__")
