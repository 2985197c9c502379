"""The commands: console scripts, flags made from the options, one-line errors."""

import ast
import dataclasses
import importlib.util
import os
import re
import sys

import pytest
from absl import flags

from adjustable_style import cli, dataclass_flags
from adjustable_style.errors import UsageError, UserError
from adjustable_style.stylize import options as stylize_options
from adjustable_style.training import config as train_config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STYLE = os.path.join(REPO, "adjustable_style", "examples", "chelsea.png")


def test_setup_declares_the_four_console_scripts():
    with open(os.path.join(REPO, "setup.py"), encoding="utf-8") as f:
        scripts = dict(re.findall(r'"(adjustable-style-\w+) = ([\w.:]+)"', f.read()))
    assert set(scripts) == {
        "adjustable-style-train",
        "adjustable-style-stylize",
        "adjustable-style-export",
        "adjustable-style-demo",
    }
    for target in scripts.values():
        module, function = target.split(":")
        assert module.startswith("adjustable_style.commands.")
        # Read, not imported: the commands' flags share names (--seed, ...)
        # and each defines them in the one absl FLAGS at import.
        source = importlib.util.find_spec(module).origin
        with open(source, encoding="utf-8") as f:
            tree = ast.parse(f.read())
        assert function in {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


@pytest.mark.parametrize("cls", [train_config.TrainConfig, stylize_options.Options])
def test_flags_take_defaults_and_help_from_the_options(cls):
    values = flags.FlagValues()
    dataclass_flags.define_flags(cls, "options_under_test", flag_values=values)
    values(["prog"])
    for field in dataclasses.fields(cls):
        assert values[field.name].default == field.default, field.name
        assert values[field.name].help.endswith(field.metadata["help"])  # enums: "<a|b>: "
    made = dataclass_flags.from_flags(cls, values)
    assert made == cls()


def _config(**changes):
    return train_config.TrainConfig(
        style_image=STYLE, content_images=STYLE, model_dir="unused", vgg_weights="random", **changes
    )


@pytest.mark.parametrize(
    "changes,message",
    [
        (dict(ema_decay=2.0), "--ema_decay must be in [0, 1], got 2"),
        (dict(ema_decay=float("nan")), "--ema_decay must be a finite number"),
        (dict(ema_decay="0.5"), "--ema_decay must be a finite number"),
        (dict(content_weight=-1.0), "--content_weight must be a non-negative number"),
        (
            dict(model_type="base", style_weights=["1", "0", "0"], alpha_edge_probability=0.5),
            "--alpha_edge_probability is for --model_type=adjustable",
        ),
        (dict(loss_normalization="raw"), "--loss_normalization must be one of eq8, none"),
        (dict(content_weight=None), "--content_weight must be a finite number"),
        (
            dict(model_type="base", style_weights=["1", "2"]),
            "--style_weights has 2 values but there are 3 style layers",
        ),
        (
            dict(model_type="base", style_weights=["a", "b", "c"]),
            "--style_weights must be numbers, got a,b,c",
        ),
        (dict(batch_size=2.5), "--batch_size must be an integer"),
    ],
)
def test_train_config_validate_gives_one_line(changes, message):
    with pytest.raises(UserError) as error:
        _config(**changes).validate()
    assert message in str(error.value) and "\n" not in str(error.value)


def test_validate_puts_style_weights_in_float_form():
    config = _config(model_type="base", style_weights=["1", "0.5", "0.25"])
    config.validate()
    assert config.style_weights == [1.0, 0.5, 0.25]


def test_every_error_class_is_a_user_error():
    from adjustable_style import alpha_vectors as alpha
    from adjustable_style import images, model_files, noise
    from adjustable_style.export import output_files
    from adjustable_style.model import loss_network
    from adjustable_style.training import checkpoints, data, run_lock
    from adjustable_style.training import run_tf as training
    from adjustable_style.vgg import readers as weight_readers

    for error in (
        alpha.AlphaError,
        checkpoints.CheckpointError,
        data.DatasetError,
        output_files.ExportError,
        images.ImageError,
        loss_network.LossNetworkError,
        model_files.ModelFileError,
        noise.NoiseError,
        run_lock.LockError,
        training.TrainingError,
        weight_readers.WeightsError,
        UsageError,
    ):
        assert issubclass(error, UserError), error
    assert cli.user_errors() == (UserError, OSError)
    assert str(UsageError("two\n  lines")) == "two lines"


@pytest.mark.parametrize(
    "argv,code",
    [
        (["adjustable-style-export"], 1),
        (["adjustable-style-export", "coreml"], 1),
        (["adjustable-style-export", "--help"], 0),
    ],
)
def test_export_needs_a_known_format(monkeypatch, capsys, argv, code):
    from adjustable_style.commands import export

    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exit_:
        export.main()
    assert exit_.value.code == code
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "saved_model|tflite|onnx" in lines[0]


_SWALLOWED_STOP = r"""
import sys, time
from adjustable_style import cli

class StoppedInDel:
    def __del__(self):
        # Where garbage collection runs it, Python prints and ignores this.
        raise {exception}()

def main(argv):
    StoppedInDel()
    deadline = time.time() + 20
    while time.time() < deadline:
        time.sleep(0.01)
    print("carried on")

cli.run(main, "prog")
"""


@pytest.mark.parametrize(
    "exception, code, word",
    [("KeyboardInterrupt", 130, "interrupted"), ("cli.Terminated", 143, "terminated")],
)
def test_a_stop_swallowed_by_a_destructor_still_stops(exception, code, word):
    import subprocess

    result = subprocess.run(
        [sys.executable, "-c", _SWALLOWED_STOP.format(exception=exception)],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(__file__))),
    )
    assert result.returncode == code, result.stderr
    assert result.stderr.splitlines() == [f"prog: {word}"]
    assert "carried on" not in result.stdout


# Every command with an integer flag, and the other flags its runs need to
# reach their checks (files that exist; nothing is written).
_FLAG_WALK = {
    "train": ("train.py", ["style_image={style}", "content_images={style}", "model_dir={tmp}/run"]),
    "stylize": ("stylize.py", ["content={style}", "output={tmp}/out.png"]),
    "demo": ("demo.py", []),
    "export_tflite": ("export/tflite.py", ["output={tmp}/m.tflite"]),
    "export_onnx": ("export/onnx.py", ["output={tmp}/m.onnx"]),
    "export_saved_model": ("export/saved_model.py", ["output={tmp}/saved"]),
    "export_web": ("export/web.py", ["output={tmp}/page"]),
}


def _walk_integer_flags(tmp_path, value):
    """{(command, flag): result} of every integer flag of every command set to `value`."""
    import json
    import subprocess

    import harness

    env = dict(harness.COMMAND_ENV, PYTHONPATH=REPO)
    processes = {}
    for module, (program, base) in _FLAG_WALK.items():
        words = [word.format(style=STYLE, tmp=tmp_path) for word in base]
        processes[module] = subprocess.Popen(
            [sys.executable, os.path.join(REPO, "tests", "flag_walk.py"), module, program]
            + [str(value)]
            + words,
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    results = {}
    for module, process in processes.items():
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
        for flag, result in json.loads(stdout).items():
            results[module, flag] = result
    return results


@pytest.mark.parametrize("value", [10**12, "１"])
def test_every_integer_flag_refuses_a_huge_or_non_ascii_value_in_one_line(tmp_path, value):
    results = _walk_integer_flags(tmp_path, value)
    walked = {module for module, _ in results}
    # The integer flags of every command that has some (saved_model has none).
    assert walked == set(_FLAG_WALK) - {"export_saved_model"}
    assert ("train", "image_size") in results and ("stylize", "num_samples") in results
    for (module, flag), result in results.items():
        where = f"{module} --{flag}={value}: {result['stderr'][-2000:]}"
        assert result["code"] == 1, where
        lines = result["stderr"].splitlines()
        assert len(lines) == 1 and ": error: " in lines[0], where
        assert "Traceback" not in result["stderr"], where
        assert result["seconds"] < 5, where
        # One parser for every integer flag: ASCII digits only.
        assert result["parser"] == "_AsciiIntegerParser", where
    assert not os.listdir(tmp_path)


def test_every_command_that_writes_a_file_has_one_overwrite_rule():
    """docs/outputs.md: each writing command takes --overwrite and refuses without it."""
    from adjustable_style.vgg import weights as vgg_weights

    assert "overwrite" in {f.name for f in dataclasses.fields(stylize_options.Options)}
    assert stylize_options.Options().overwrite is False
    values = flags.FlagValues()
    vgg_weights.define_flags(values)
    assert values["overwrite"].default is False
    for name in ("export_saved_model", "export_tflite", "export_onnx", "export_web"):
        # Read, not imported (their flags live in the one absl FLAGS).
        source = importlib.util.find_spec(f"adjustable_style.commands.{name}").origin
        with open(source, encoding="utf-8") as f:
            assert re.search(r'DEFINE_bool(ean)?\(\s*"overwrite",\s*False', f.read()), name
    with open(os.path.join(REPO, "docs", "outputs.md"), encoding="utf-8") as f:
        rule = f.read()
    for command in ("stylize.py", "export/saved_model.py", "adjustable_style.vgg.weights"):
        assert command in rule
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        assert "python stylize.py --output=stylized.png --overwrite" in f.read()
