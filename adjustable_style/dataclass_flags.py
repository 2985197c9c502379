"""The command-line vocabulary: absl flags made from a dataclass, and back.

A field becomes `--name` with the field's default and its `help` metadata;
`choices` metadata makes an enum flag. Types map as str -> string, int ->
integer, float -> float, bool -> bool and a sequence -> a comma-separated
list (converted to the field's element type by the dataclass's own checks).

`from_flags` reads parsed flags into an instance; `to_flags` is its
inverse, the flags that set chosen fields, which every "the flags that
reproduce this" line is written with (stylizing pictures and videos, the
demo's command line).
"""

import dataclasses
import shlex
import sys
import typing

from absl import flags

from adjustable_style import limits


class _AsciiIntegerParser(flags.IntegerParser):
    """absl's integer parser, taking only ASCII digits (Python's `int` takes '１')."""

    def convert(self, argument):
        if isinstance(argument, str):
            return limits.parse_int(argument, "an integer flag", error=ValueError)
        return super().convert(argument)


class _AsciiFloatParser(flags.FloatParser):
    """absl's float parser, refusing digits of other scripts ('１.５')."""

    def convert(self, argument):
        if isinstance(argument, str) and not argument.isascii():
            raise ValueError(f"a number flag must be written in ASCII digits, got {argument!r}")
        return super().convert(argument)


def define_integer(name, default, help, flag_values=flags.FLAGS, **args):  # noqa: A002
    """`flags.DEFINE_integer` that reads only ASCII digits (every command's integers)."""
    # Owned by the module that calls this one (absl would credit this module),
    # so that the command's --help lists it.
    args.setdefault("module_name", sys._getframe(1).f_globals["__name__"])
    return flags.DEFINE(
        _AsciiIntegerParser(), name, default, help, flag_values, flags.ArgumentSerializer(), **args
    )


def define_float(name, default, help, flag_values=flags.FLAGS, **args):  # noqa: A002
    """`flags.DEFINE_float` that reads only ASCII digits."""
    # Owned by the module that calls this one (absl would credit this module),
    # so that the command's --help lists it.
    args.setdefault("module_name", sys._getframe(1).f_globals["__name__"])
    return flags.DEFINE(
        _AsciiFloatParser(), name, default, help, flag_values, flags.ArgumentSerializer(), **args
    )


def _base_type(annotation):
    """`int` for `Optional[int]`; the origin (`Sequence`) for `Sequence[str]`."""
    arguments = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is typing.Union and len(arguments) == 1:
        return _base_type(arguments[0])
    return typing.get_origin(annotation) or annotation


def define_flags(cls, module_name, flag_values=flags.FLAGS):
    """Defines one flag per field of the dataclass `cls`, owned by `module_name`.

    The owner is the command's module (absl would credit this one), so that
    its `--help` lists them.
    """
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        help_text = field.metadata["help"]
        default = field.default
        kind = _base_type(hints[field.name])
        args = dict(flag_values=flag_values, module_name=module_name)
        if "choices" in field.metadata:
            flags.DEFINE_enum(
                field.name, default, list(field.metadata["choices"]), help_text, **args
            )
        elif kind is bool:
            flags.DEFINE_bool(field.name, default, help_text, **args)
        elif kind is int:
            define_integer(field.name, default, help_text, **args)
        elif kind is float:
            define_float(field.name, default, help_text, **args)
        elif kind is str:
            flags.DEFINE_string(field.name, default, help_text, **args)
        else:  # A sequence.
            flags.DEFINE_list(field.name, default, help_text, **args)


def from_flags(cls, flag_values=flags.FLAGS):
    """An instance of `cls` with every field set from its parsed flag."""
    return cls(**{field.name: flag_values[field.name].value for field in dataclasses.fields(cls)})


def to_flags(options, names, **values):
    """The flags that set fields `names` of `options`, as a list of `--name=value`.

    `values` overrides fields (a value worked out from the options, such as
    a sampled alpha in `alpha_vectors.format_alpha` form); a None value
    leaves its flag out. A bool is `--name` or `--noname`, a float is
    written in its shortest form, a sequence comma-joined.
    """
    fields = {field.name for field in dataclasses.fields(options)}
    flags = []
    for name in names:
        if name not in fields:
            raise ValueError(f"{type(options).__name__} has no field {name!r}")
        value = values[name] if name in values else getattr(options, name)
        if value is None:
            continue
        if isinstance(value, bool):
            flags.append(f"--{name}" if value else f"--no{name}")
        elif isinstance(value, float):
            flags.append(f"--{name}={value:g}")
        elif isinstance(value, (list, tuple)):
            flags.append(f"--{name}={','.join(map(str, value))}")
        else:
            flags.append(f"--{name}={value}")
    return flags


def command_line(*parts):
    """Words (and lists of words, such as `to_flags`') as one shell-quoted line."""
    words = []
    for part in parts:
        words += [part] if isinstance(part, str) else list(part)
    return " ".join(shlex.quote(word) for word in words)
