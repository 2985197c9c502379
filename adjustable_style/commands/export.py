"""`adjustable-style-export FORMAT [flags]`: one command for every export format.

    adjustable-style-export saved_model --model=starry_night --output=exported
    adjustable-style-export tflite --model=starry_night --output=stylizer.tflite
    adjustable-style-export onnx --model=starry_night --output=stylizer.onnx
    adjustable-style-export web --model=starry_night --output=page

FORMAT picks the module `export_<FORMAT>` of this package, which defines its
own flags (`adjustable-style-export tflite --help` lists them); a new format
is one more such module and one more entry in `FORMATS`.
"""

import importlib
import sys

FORMATS = ("saved_model", "tflite", "onnx", "web")
PROGRAM = "adjustable-style-export"


def main():
    format_name = sys.argv[1] if len(sys.argv) > 1 else ""
    if format_name not in FORMATS:
        given = f"unknown format {format_name!r}; " if format_name.strip("-") else ""
        print(
            f"{PROGRAM}: error: {given}usage: {PROGRAM} {{{'|'.join(FORMATS)}}} "
            "[flags] (--help after the format lists its flags)",
            file=sys.stderr,
        )
        sys.exit(0 if format_name in ("-h", "--help", "--helpshort") else 1)
    # The format's own flags are defined only now, so that the two formats'
    # --model, --output and --overwrite (with their own help) never clash.
    command = importlib.import_module(f"adjustable_style.commands.export_{format_name}")
    program = f"{PROGRAM} {format_name}"
    sys.argv = [program] + sys.argv[2:]
    command.main(program)
