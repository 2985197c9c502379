r"""Webcam-size real time: frames per second end to end at 320x240.

    python benchmarks/webcam.py                       # 2 threads, 40 frames
    python benchmarks/webcam.py --threads=2 --frames=60 --model=great_wave

Each frame is what a webcam loop does: decode a JPEG (320x240), stylize it
with a new alpha (so Lambda runs for every frame: a slider being dragged,
or an alpha walk), and encode the result as a JPEG. Variants, interleaved
frame by frame so that changes in machine load hit all alike:

- `frame`: one frame per call (the latency a live view sees);
- `pair`: two frames per call, batch 2 (more throughput, a frame of latency);
- `same alpha`: one frame per call at a fixed alpha (Lambda cached), to
  show what Lambda costs per frame.

Also printed: the median milliseconds of each stage of the `frame` variant
(decode, Lambda, network, encode), to show where a frame's time goes.
"""

import io
import os
import statistics
import sys
import time

if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "The model (default: the default shipped model).")
flags.DEFINE_integer("width", 320, "Frame width.")
flags.DEFINE_integer("height", 240, "Frame height.")
flags.DEFINE_integer("frames", 40, "Timed frames per variant.")
flags.DEFINE_integer("threads", 2, "CPU threads for TensorFlow.")
flags.DEFINE_string(
    "precision", "auto", "float32, bfloat16 or auto (bfloat16 only where the CPU has it)."
)
flags.DEFINE_integer("seed", 0, "Seed of the alphas.")


def _jpeg(image_uint8):
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image_uint8).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _decode(data):
    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), np.float32) / 255.0


def main(argv):
    del argv
    from adjustable_style import cli, hardware, images, model_files
    from adjustable_style.inference import precision as inference_precision
    from adjustable_style.stylize.options import DEFAULT_CONTENT

    cli.quiet_tensorflow_import()
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(FLAGS.threads)
    tf.config.threading.set_inter_op_parallelism_threads(FLAGS.threads)
    mode = inference_precision.resolve(FLAGS.precision)
    stylizer, _ = model_files.load_stylizer(FLAGS.model)
    fast = inference_precision.PrecisionStylizer(stylizer, mode)
    photo = images.resize_image(images.load_image(DEFAULT_CONTENT), FLAGS.height, FLAGS.width)
    frame_jpeg = _jpeg(images.to_uint8(photo))
    rng = np.random.default_rng(FLAGS.seed)
    layers = len(fast.exact.style_layers if fast.exact else fast.fast.style_layers)
    fixed = np.full((1, layers), 0.5, np.float32)
    # The PSNR check of "auto" runs on the first frame, before timing.
    fast(_decode(frame_jpeg)[None], fixed)

    stages = {"decode": [], "Lambda": [], "network": [], "encode": []}
    engine = (
        fast.fast if fast.precision_for(FLAGS.height, FLAGS.width) == "bfloat16" else fast.exact
    )

    def frame(alpha=None, record=False):
        t0 = time.perf_counter()
        content = _decode(frame_jpeg)[None]
        t1 = time.perf_counter()
        a = rng.random((1, layers), np.float32) if alpha is None else alpha
        params = engine.norm_parameters(a)
        t2 = time.perf_counter()
        out = engine._whole(content, params).numpy()
        t3 = time.perf_counter()
        _jpeg(images.to_uint8(out[0]))
        t4 = time.perf_counter()
        if record:
            for name, t in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                stages[name].append(t)

    def pair():
        content = np.stack([_decode(frame_jpeg), _decode(frame_jpeg)])
        out = engine(content, rng.random((2, layers), np.float32))
        for image in out:
            _jpeg(images.to_uint8(image))

    variants = {
        "frame": (lambda: frame(record=True), 1),
        "pair": (pair, 2),
        "same alpha": (lambda: frame(fixed), 1),
    }
    for fn, _ in variants.values():
        fn()
    times = {name: [] for name in variants}
    names = list(variants)
    for r in range(FLAGS.frames):
        for name in names[r % 3 :] + names[: r % 3]:
            fn, count = variants[name]
            start = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - start) / count)

    native = hardware.native_bfloat16_flags()
    print(
        f"{hardware.cpu_name()}, {os.cpu_count()} logical CPUs, {FLAGS.threads} threads; "
        f"TensorFlow {tf.__version__}; {FLAGS.width}x{FLAGS.height}; precision "
        f"{engine.precision} (--precision={FLAGS.precision}; native bfloat16: "
        f"{', '.join(native) or 'no'})"
    )
    print(f"\n{'variant':>11} {'fps':>7} {'ms/frame':>9}")
    for name in names:
        median = statistics.median(times[name])
        print(f"{name:>11} {1 / median:>7.1f} {1000 * median:>9.1f}")
    print(
        "\nWhere a `frame` goes (median ms): "
        + ", ".join(f"{name} {1000 * statistics.median(t):.1f}" for name, t in stages.items())
    )
    print(
        f"\nReproduce: python benchmarks/webcam.py --width={FLAGS.width} "
        f"--height={FLAGS.height} --frames={FLAGS.frames} --threads={FLAGS.threads} "
        f"--precision={FLAGS.precision}" + (f" --model={FLAGS.model}" if FLAGS.model else "")
    )


if __name__ == "__main__":
    app.run(main)
