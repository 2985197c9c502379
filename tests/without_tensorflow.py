"""Runs a Python script as if TensorFlow were not installed.

    python tests/without_tensorflow.py train.py --flag=value ...
    python tests/without_tensorflow.py -c "import keras; ..." ARGS ...

TensorFlow is installed where the tests run; the runs on JAX and PyTorch
must work where it is not. Python's import finders are wrapped so that they do not
find TensorFlow (nor TensorBoard, which would pull it in): `import
tensorflow` raises ModuleNotFoundError, as on such a machine, so that any
path that imports it fails loudly.
"""

import importlib.abc
import os
import runpy
import sys

BLOCKED = ("tensorflow", "tensorboard", "tf_keras")


class _Hiding(importlib.abc.MetaPathFinder):
    """One of Python's finders, blind to the blocked packages.

    Not finding them (rather than raising) is what a machine without them
    does: `importlib.util.find_spec` answers None, which libraries probing
    for optional packages (torch's dynamo, Keras) rely on.
    """

    def __init__(self, finder):
        self._finder = finder

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            return None
        return self._finder.find_spec(name, path, target)

    def invalidate_caches(self):
        getattr(self._finder, "invalidate_caches", lambda: None)()


if __name__ == "__main__":
    for module in [m for m in sys.modules if m.split(".")[0] in BLOCKED]:
        del sys.modules[module]
    sys.meta_path[:] = [_Hiding(f) if hasattr(f, "find_spec") else f for f in sys.meta_path]
    if sys.argv[1] == "-c":
        code, sys.argv = sys.argv[2], ["-c", *sys.argv[3:]]
        sys.path[0] = os.getcwd()  # As `python -c` has it.
        exec(compile(code, "<string>", "exec"), {"__name__": "__main__"})
        sys.exit(0)
    script = sys.argv[1]
    sys.argv = sys.argv[1:]
    # As `python SCRIPT` would: the script's folder first on the path.
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    runpy.run_path(script, run_name="__main__")
