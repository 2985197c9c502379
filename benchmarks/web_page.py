r"""Frames per second of the exported web page in headless Chromium.

    npm ci --prefix web                                  # once: the runtime
    python benchmarks/web_page.py                        # starry_night, 256x256, 10 frames
    python benchmarks/web_page.py --page=page --frames=20 --isolated

Exports the model's page (`adjustable-style-export web`) to a temporary
folder (or takes an earlier export with --page), serves it with Python's
http.server on 127.0.0.1, opens it in Debian's Chromium (/usr/bin/chromium,
headless, no GPU: the WebAssembly backend), uploads a --size square photo
and moves a slider to a new value for every frame, one frame after the
other, as a user dragging it would.

Printed: frames per second (wall clock, from the first move to the last
picture shown), the page's own milliseconds per inference (median), and the
CPU seconds the browser used per frame. On a machine busy with other work
the last one says what a frame costs; the first two say what this machine
gave.

A plain static server gives the page one WebAssembly thread: threads need
a cross-origin isolated page. --isolated serves the headers that make it
so (Cross-Origin-Opener-Policy and Cross-Origin-Embedder-Policy), and the
page then uses up to 4 threads.
"""

import functools
import http.server
import os
import statistics
import sys
import tempfile
import threading
import time

if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("model", "starry_night", "The model to export.")
flags.DEFINE_string("page", None, "An earlier export of the page to serve (skips the export).")
flags.DEFINE_integer("size", 256, "The photo's side: a square of this many pixels.")
flags.DEFINE_integer("frames", 10, "Timed frames (after one untimed).")
flags.DEFINE_bool("isolated", False, "Serve the page cross-origin isolated (WebAssembly threads).")
flags.DEFINE_string("chromium", "/usr/bin/chromium", "The Chromium binary.")
flags.DEFINE_integer("seed", 0, "Seed of the slider values.")

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FRAME_SHOWN_JS = """frames => document.body.dataset.busy === '0'
  && Number(document.querySelector('#result').dataset.frames || 0) > frames"""


def _handler(folder, isolated):
    class Handler(http.server.SimpleHTTPRequestHandler):
        def end_headers(self):
            if isolated:
                self.send_header("Cross-Origin-Opener-Policy", "same-origin")
                self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
            super().end_headers()

        def log_message(self, *args):
            pass

    return functools.partial(Handler, directory=folder)


def _photo(path, side):
    from adjustable_style import images
    from adjustable_style.export import web

    square = images.load_center_square(web.EXAMPLE_PHOTO, side)
    images.save_image(square, path)


def _browser_cpu_seconds():
    """CPU seconds of this process's descendants (Playwright's driver and Chromium)."""
    import psutil

    total = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def _export(folder):
    from adjustable_style import cli, model_files
    from adjustable_style.export import web

    web.runtime_files()
    cli.quiet_tensorflow_import()
    stylizer, record = model_files.load_stylizer(FLAGS.model)
    path, _ = web.export_web(
        stylizer,
        folder,
        name=web.model_name(FLAGS.model),
        record=record,
        style_image=web.style_thumbnail(FLAGS.model),
    )
    return path


def _run(folder, photo):
    import numpy as np
    from playwright.sync_api import sync_playwright

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(folder, FLAGS.isolated))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/?backend=wasm&example=0&size={FLAGS.size}"
    rng = np.random.default_rng(FLAGS.seed)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=FLAGS.chromium, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.set_default_timeout(0)
            page.goto(url)
            page.wait_for_function("() => document.body.dataset.busy === '0'")
            page.set_input_files("#upload", photo)
            page.wait_for_function(FRAME_SHOWN_JS, arg=0)  # The untimed first frame.
            layers = page.eval_on_selector_all(
                "#sliders input[type=range]", "els => els.map(e => e.id)"
            )
            times, cpu_start, start = [], _browser_cpu_seconds(), time.perf_counter()
            for k in range(FLAGS.frames):
                page.eval_on_selector(
                    f"#{layers[k % len(layers)]}",
                    "(el, v) => { el.value = v; el.dispatchEvent(new Event('input')); }",
                    f"{rng.uniform():.2f}",
                )
                page.wait_for_function(FRAME_SHOWN_JS, arg=k + 1)
                times.append(float(page.get_attribute("#result", "data-ms")))
            seconds = time.perf_counter() - start
            cpu = _browser_cpu_seconds() - cpu_start
            shown = page.evaluate(
                "() => [document.querySelector('#result').width,"
                " document.querySelector('#result').height]"
            )
            backend = page.text_content("#backend")
            version = browser.version
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    return seconds, times, cpu, shown, backend, version


def main(argv):
    del argv
    if not os.access(FLAGS.chromium, os.X_OK):
        sys.exit(f"benchmarks/web_page.py: error: no Chromium at {FLAGS.chromium}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = FLAGS.page or _export(os.path.join(tmp, "page"))
        photo = os.path.join(tmp, "photo.png")
        _photo(photo, FLAGS.size)
        seconds, times, cpu, shown, backend, version = _run(folder, photo)
    frames = len(times)
    print(
        f"{FLAGS.model} page, {shown[0]}x{shown[1]}, {backend}, headless Chromium {version}"
        f"{' (cross-origin isolated)' if FLAGS.isolated else ''}: {frames} frames in "
        f"{seconds:.1f} s = {frames / seconds:.2f} fps; the page's inference "
        f"{statistics.median(times):.0f} ms a frame (median; {min(times):.0f}-{max(times):.0f}); "
        f"browser CPU {cpu / frames:.2f} s a frame"
    )


if __name__ == "__main__":
    app.run(main)
