"""absl flags made from a dataclass: its fields' names, types, defaults and help.

A field becomes `--name` with the field's default and its `help` metadata;
`choices` metadata makes an enum flag. Types map as str -> string, int ->
integer, float -> float, bool -> bool and a sequence -> a comma-separated
list (converted to the field's element type by the dataclass's own checks).
"""

import dataclasses
import typing

from absl import flags


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
            flags.DEFINE_integer(field.name, default, help_text, **args)
        elif kind is float:
            flags.DEFINE_float(field.name, default, help_text, **args)
        elif kind is str:
            flags.DEFINE_string(field.name, default, help_text, **args)
        else:  # A sequence.
            flags.DEFINE_list(field.name, default, help_text, **args)


def from_flags(cls, flag_values=flags.FLAGS):
    """An instance of `cls` with every field set from its parsed flag."""
    return cls(**{field.name: flag_values[field.name].value for field in dataclasses.fields(cls)})
