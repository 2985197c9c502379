r"""The interactive demo: one slider per style layer, in the browser.

    python demo.py                  # then open http://127.0.0.1:8000/

The same as the `adjustable-style-demo` command; see
adjustable_style/commands/demo.py and docs/demo.md.
"""

from adjustable_style.commands import demo

if __name__ == "__main__":
    demo.main("demo.py")
