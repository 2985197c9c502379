"""One long-lived Python process on another Keras backend, with TensorFlow hidden.

Each run of a command on JAX costs a fresh interpreter that imports Keras
and JAX again; the backend tests start one of these instead (a session
fixture of conftest.py) and send it their commands:

    server = BackendServer("jax", log_path)
    server.run_script("train.py", "--flag=value")  # as `python train.py ...`
    server.run_code(SOURCE, "arg")                  # as `python -c SOURCE arg`

Each answers a `subprocess.CompletedProcess` (return code, stdout, stderr).
The server runs under `without_tensorflow.py`, so `import tensorflow`
fails in it as on a machine without TensorFlow. A script runs as
`python SCRIPT` would run it (as `__main__`, absl's flags reset before and
after), so what a test asserts about its output holds for the command; the
tests that are about the command line itself (a fresh process's start-up,
signals, device counts fixed at start) still start their own process.

Requests and answers are JSON lines on the server's stdin and on a copy of
its original stdout; while a request runs, file descriptors 1 and 2 write
to files, so output from C++ is captured too.
"""

import json
import os
import subprocess
import sys
import tempfile
import threading
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def backend_env(backend, **extra):
    """The environment of a command on `backend`: CPU only, little chatter."""
    return {
        **os.environ,
        "KERAS_BACKEND": backend,
        "CUDA_VISIBLE_DEVICES": "",
        "JAX_PLATFORMS": "cpu",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        **extra,
    }


class BackendServer:
    """The client: starts the server and sends it one request at a time."""

    def __init__(self, backend, log_path, timeout=900):
        self.backend = backend
        self.timeout = timeout
        self._log = open(log_path, "w")
        self._process = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "without_tensorflow.py"), __file__],
            env=backend_env(backend),
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        self._lock = threading.Lock()

    def _request(self, request):
        with self._lock:
            if self._process.poll() is not None:
                raise RuntimeError(f"the {self.backend} server exited; see {self._log.name}")
            self._process.stdin.write(json.dumps(request) + "\n")
            self._process.stdin.flush()
            timer = threading.Timer(self.timeout, self._process.kill)
            timer.start()
            try:
                line = self._process.stdout.readline()
            finally:
                timer.cancel()
        if not line:
            raise RuntimeError(f"the {self.backend} server died; see {self._log.name}")
        answer = json.loads(line)
        return subprocess.CompletedProcess(
            request["argv"], answer["returncode"], answer["stdout"], answer["stderr"]
        )

    def run_script(self, script, *args):
        """`python SCRIPT ARGS...` (SCRIPT relative to the repository root, or absolute)."""
        return self._request({"script": script, "argv": [script, *map(str, args)]})

    def run_code(self, code, *args):
        """`python -c CODE ARGS...`."""
        return self._request({"code": code, "argv": ["-c", *map(str, args)]})

    def close(self):
        if self._process.poll() is None:
            self._process.stdin.close()
            try:
                self._process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()


def _run(request):
    """Runs one request as its own `python` command would; the exit code."""
    import runpy
    import signal

    from absl import flags

    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    path, argv = list(sys.path), sys.argv
    flags.FLAGS.unparse_flags()
    sys.argv = list(request["argv"])
    try:
        if "script" in request:
            script = os.path.join(REPO, request["script"])
            sys.path[0] = os.path.dirname(script)  # As `python SCRIPT` has it.
            runpy.run_path(script, run_name="__main__")
        else:
            sys.path[0] = os.getcwd()  # As `python -c` has it.
            exec(compile(request["code"], "<string>", "exec"), {"__name__": "__main__"})
        return 0
    except SystemExit as done:
        if done.code is None or isinstance(done.code, int):
            return done.code or 0
        print(done.code, file=sys.stderr)
        return 1
    except BaseException:
        traceback.print_exc()
        return 1
    finally:
        sys.argv = argv
        sys.path[:] = path
        flags.FLAGS.unparse_flags()
        signal.signal(signal.SIGTERM, handlers[0])
        signal.signal(signal.SIGINT, handlers[1])


def _serve():
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # Stray output between requests goes to the log, not the answers.
    for line in sys.stdin:
        request = json.loads(line)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            sys.stdout.flush(), sys.stderr.flush()
            saved = os.dup(1), os.dup(2)
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            try:
                code = _run(request)
            finally:
                sys.stdout.flush(), sys.stderr.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
                os.close(saved[0]), os.close(saved[1])
            texts = []
            for stream in (out, err):
                stream.seek(0)
                texts.append(stream.read().decode("utf-8", "replace"))
        answers.write(json.dumps({"returncode": code, "stdout": texts[0], "stderr": texts[1]}))
        answers.write("\n")
        answers.flush()


if __name__ == "__main__":
    sys.path.insert(0, HERE)  # The tests' helpers (backend_worker) import by name.
    _serve()
