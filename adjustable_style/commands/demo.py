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

import errno
import socket
import sys
import threading

from absl import flags

from adjustable_style import cli, dataclass_flags, images, limits, model_files
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
dataclass_flags.define_integer(
    "port", demo_lib.DEFAULT_PORT, "Port to listen on, 0..65535; 0 picks a free one (printed)."
)
dataclass_flags.define_integer(
    "preview_size",
    demo_lib.DEFAULT_PREVIEW_SIZE,
    f"Long side in pixels of the live preview while sliding, 16..{limits.MAX_SIDE}.",
)
dataclass_flags.define_integer(
    "max_size",
    demo_lib.DEFAULT_MAX_SIZE,
    "Long side in pixels of the full-size picture (photos are "
    f"shrunk to it, as stylize.py --max_size); 0 = full size; at most {limits.MAX_SIDE}.",
)
dataclass_flags.define_integer(
    "max_pixels",
    images.DEFAULT_MAX_PIXELS,
    f"Refuse photos with more pixels (0 = no limit), at most {limits.MAX_PIXELS_FLAG}.",
)


def _main(argv, program):
    cli.check_no_arguments(argv)
    if not 0 <= FLAGS.port <= 65535:
        raise cli.UsageError(f"--port must be in 0..65535, got {FLAGS.port}")
    limits.check_side("--preview_size", FLAGS.preview_size, 16)
    limits.check_side("--max_size", FLAGS.max_size, 0)
    if FLAGS.max_size < 0 or 0 < FLAGS.max_size < FLAGS.preview_size:
        raise cli.UsageError(
            f"--max_size must be 0 (full size) or >= --preview_size "
            f"({FLAGS.preview_size}), got {FLAGS.max_size}"
        )
    limits.check_count("--max_pixels", FLAGS.max_pixels, 0, limits.MAX_PIXELS_FLAG)
    if FLAGS.model:
        model_files.check_model_spec(FLAGS.model)  # A one-line error if missing.

    # The app's modules bring TensorFlow in; its start-up chatter stays hidden.
    print("Starting TensorFlow...", flush=True)
    cli.quiet_tensorflow_import()
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
    try:
        server = demo_lib.make_server(app, FLAGS.host, FLAGS.port)
    except socket.gaierror as error:
        raise cli.UsageError(
            f"--host={FLAGS.host}: cannot resolve this host name ({error.strerror or error}); "
            f"pass an address of this machine, e.g. {demo_lib.DEFAULT_HOST} or 0.0.0.0"
        ) from None
    except OSError as error:
        if error.errno == errno.EADDRNOTAVAIL:
            raise cli.UsageError(
                f"--host={FLAGS.host}: not an address of this machine "
                f"({error.strerror or error}); pass one of its addresses, e.g. "
                f"{demo_lib.DEFAULT_HOST} or 0.0.0.0"
            ) from None
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
