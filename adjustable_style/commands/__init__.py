"""The command-line programs: absl flags in, options out, the library does the work.

Each module defines its flags and a `main()` that setup.py installs as a
console script (`adjustable-style-train`, `-stylize`, `-export`, `-demo`);
the scripts at the top of the repository (`train.py`, `stylize.py`,
`demo.py`, `export/*.py`) call the same `main`.
"""
