"""The files the demo serves as they are: the page (page/) and the example photos."""

import functools
import importlib.resources
import os

from adjustable_style.demo.requests import Response

EXAMPLES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
EXAMPLE_EXTENSIONS = (".png", ".jpg", ".jpeg")

# The page's files (in page/), by the path the browser asks for.
PAGE_FILES = {
    "/": "index.html",
    "/demo.css": "demo.css",
    "/demo.js": "demo.js",
    "/camera.js": "camera.js",
    "/brush.js": "brush.js",
}
_PAGE_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
}


@functools.lru_cache(maxsize=None)
def _page_bytes(name):
    return importlib.resources.files("adjustable_style.demo").joinpath("page", name).read_bytes()


def page_file(name):
    """A file of the page, read once from the installed package."""
    return Response(200, _page_bytes(name), _PAGE_TYPES[os.path.splitext(name)[1]])


def example_files():
    """{name: path} of the bundled example photos, sorted by name."""
    if not os.path.isdir(EXAMPLES_DIR):
        return {}
    return {
        name: os.path.join(EXAMPLES_DIR, name)
        for name in sorted(os.listdir(EXAMPLES_DIR))
        if name.lower().endswith(EXAMPLE_EXTENSIONS) and not name.startswith(".")
    }
