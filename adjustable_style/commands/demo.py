r"""`adjustable-style-demo` (and `demo.py`): the sliders in the browser.

    adjustable-style-demo                               # the default shipped model
    adjustable-style-demo --model=runs/painting         # a trained model folder
    adjustable-style-demo --port=0                      # any free port (printed)

Then open the printed address. The page lets you pick a bundled example or
upload a photo, move the alpha sliders (a live preview while sliding, the
full-size picture on release), randomize alphas, toggle the content-noise
mask, copy the matching `stylize.py` command and download the PNG. It loads
nothing from the internet. See docs/demo.md; the server is adjustable_style/demo.
"""

import sys
import threading

from absl import flags

from adjustable_style import cli, images, model_files
from adjustable_style import demo as demo_lib

FLAGS = flags.FLAGS

flags.DEFINE_string(
    "model",
    None,
    "A .keras file, a training model folder (model.keras + model.json), a "
    "SavedModel folder written by export/saved_model.py, or the name of a "
    "shipped model; offered on the page next to the shipped models. Default: "
    f"{model_files.DEFAULT_MODEL} (the page says so if it is not installed).",
)
flags.DEFINE_string(
    "host", demo_lib.DEFAULT_HOST, "Address to listen on; 0.0.0.0 serves the whole network."
)
flags.DEFINE_integer(
    "port", demo_lib.DEFAULT_PORT, "Port to listen on; 0 picks a free one (printed)."
)
flags.DEFINE_integer(
    "preview_size",
    demo_lib.DEFAULT_PREVIEW_SIZE,
    "Long side in pixels of the live preview while sliding.",
)
flags.DEFINE_integer(
    "max_size",
    demo_lib.DEFAULT_MAX_SIZE,
    "Long side in pixels of the full-size picture (photos are "
    "shrunk to it, as stylize.py --max_size); 0 = full size.",
)
flags.DEFINE_integer(
    "max_pixels", images.DEFAULT_MAX_PIXELS, "Refuse photos with more pixels (0 = no limit)."
)


def _main(argv, program):
    cli.check_no_arguments(argv)
    if not 0 <= FLAGS.port <= 65535:
        raise cli.UsageError(f"--port must be in 0..65535, got {FLAGS.port}")
    if FLAGS.preview_size < 16:
        raise cli.UsageError(f"--preview_size must be >= 16, got {FLAGS.preview_size}")
    if FLAGS.max_size < 0 or 0 < FLAGS.max_size < FLAGS.preview_size:
        raise cli.UsageError(
            f"--max_size must be 0 (full size) or >= --preview_size "
            f"({FLAGS.preview_size}), got {FLAGS.max_size}"
        )
    if FLAGS.max_pixels < 0:
        raise cli.UsageError(f"--max_pixels must be >= 0, got {FLAGS.max_pixels}")
    if FLAGS.model:
        model_files.check_model_spec(FLAGS.model)  # A one-line error if missing.

    app = demo_lib.DemoApp(
        demo_lib.Config(
            model=FLAGS.model,
            preview_size=FLAGS.preview_size,
            max_size=FLAGS.max_size,
            max_pixels=FLAGS.max_pixels,
        )
    )
    if app.notice:
        print(f"{program}: note: {app.notice}", file=sys.stderr)
    print("Starting TensorFlow...", flush=True)
    cli.quiet_tensorflow_import()
    try:
        server = demo_lib.make_server(app, FLAGS.host, FLAGS.port)
    except OSError as error:
        raise cli.UsageError(
            f"cannot listen on {FLAGS.host}:{FLAGS.port} ({error.strerror or error}); "
            "pass another --port (0 picks a free one)"
        ) from None
    threading.Thread(target=app.preload, daemon=True).start()
    print(f"Serving the demo at {demo_lib.server_url(server)} (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def main(program="adjustable-style-demo"):
    cli.run(lambda argv: _main(argv, program), program, flags_of=__name__)
