"""Runs one command in this process once per integer flag, with a given value.

    python tests/flag_walk.py MODULE PROGRAM VALUE [FLAG=VALUE ...]

MODULE is a module of `adjustable_style.commands` with a `main(program)`;
the FLAG=VALUE words are the other flags every run gets (the ones the
command needs to reach its checks). Prints one JSON object: per integer flag
of MODULE, its exit code, what it wrote on stderr and the seconds it took.
Each command runs in its own process, since the commands define flags of
the same names in absl's one FLAGS.
"""

import contextlib
import importlib
import io
import json
import signal
import sys
import time
import traceback


def main():
    from absl import flags

    module_name, program, value, *base = sys.argv[1:]
    command = importlib.import_module(f"adjustable_style.commands.{module_name}")
    names = sorted(
        flag.name
        for flag in flags.FLAGS.get_flags_for_module(command.__name__)
        if isinstance(flag.parser, flags.IntegerParser)
    )
    parsers = {name: type(flags.FLAGS[name].parser).__name__ for name in names}
    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    results = {}
    for name in names:
        flags.FLAGS.unparse_flags()
        sys.argv = [program, *(f"--{word}" for word in base), f"--{name}={value}"]
        stderr = io.StringIO()
        started = time.perf_counter()
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            try:
                command.main(program)
                code = 0
            except SystemExit as done:
                code = done.code or 0
            except BaseException:  # A bug: reported as the traceback it is.
                code = "raised"
                stderr.write(traceback.format_exc())
        signal.signal(signal.SIGTERM, handlers[0])
        signal.signal(signal.SIGINT, handlers[1])
        results[name] = {
            "code": code,
            "stderr": stderr.getvalue(),
            "seconds": time.perf_counter() - started,
            "parser": parsers[name],
        }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
