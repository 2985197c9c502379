r"""Large images: time, peak memory and seams at 2048 and 4096 px.

    python benchmarks/large_images.py                    # 2048 and 4096
    python benchmarks/large_images.py --sizes=4096 --output_dir=/tmp/large

Each size runs in its own process, so its peak resident memory (`ru_maxrss`:
TensorFlow, the model and the image included) is its own. The content is a
bundled photo resized to size x size; the model is the default shipped one
at alpha = 1. `inference.stylizer.FastStylizer` stylizes images over
`inference.stylizer.STREAMING_PIXELS` (2048 x 2048) layer by layer in strips, with
whole-map instance-norm statistics; smaller ones in one graph.

Columns:
- `path`: whole (one graph) or streaming;
- `seconds`, `peak GiB` (peak RSS of the process) and `baseline GiB` (RSS
  after loading TensorFlow and the model, before the image);
- `seam ratio`: the mean vertical step |out[r + 1] - out[r]| across strip
  boundaries over the mean step across all rows (1.00: the boundaries look
  like any other row; blending tiles with their own statistics shows up
  here);
- `vs whole`: where both paths fit (2048 px and below), the largest
  difference between the streaming and the whole-image output.
"""

import json
import os
import resource
import subprocess
import sys
import time

if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("sizes", ["2048", "4096"], "Square sizes in pixels.")
flags.DEFINE_string("model", None, "Model (default: the default shipped model).")
flags.DEFINE_string("output_dir", None, "Also save each stylized image here (PNG).")
flags.DEFINE_integer("child", 0, "Internal: measure this one size and print JSON.")

GIB = 1024**3


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _measure(size):
    from adjustable_style import cli
    from adjustable_style.stylize import options as stylize_options

    cli.quiet_tensorflow_import()
    import numpy as np
    from PIL import Image

    from adjustable_style import model_files
    from adjustable_style.inference.streaming import STREAMING_ROWS
    from adjustable_style.inference.stylizer import STREAMING_PIXELS, FastStylizer

    model, _ = model_files.load_stylizer(FLAGS.model)
    fast = FastStylizer(model)
    photo = Image.open(stylize_options.DEFAULT_CONTENT).convert("RGB")
    content = np.asarray(photo.resize((size, size), Image.BICUBIC), np.float32)[None] / 255.0
    alpha = np.ones((1, len(fast.style_layers)), np.float32)
    fast(content[:, :64, :64], alpha)  # Traces and warms up the small graph.
    baseline = _rss_bytes()
    start = time.perf_counter()
    out = fast(content, alpha)[0]
    seconds = time.perf_counter() - start
    streaming = size * size > STREAMING_PIXELS
    steps = np.abs(np.diff(out, axis=0)).mean(axis=(1, 2))
    boundaries = np.arange(STREAMING_ROWS - 1, size - 1, STREAMING_ROWS)
    result = {
        "size": size,
        "path": "streaming" if streaming else "whole",
        "seconds": seconds,
        "baseline": baseline,
        "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "seam_ratio": float(steps[boundaries].mean() / steps.mean()),
    }
    if not streaming:
        streamed = fast.stylize_streaming(content[0], alpha)
        result["vs_whole"] = float(np.abs(streamed - out).max())
        steps = np.abs(np.diff(streamed, axis=0)).mean(axis=(1, 2))
        result["seam_ratio"] = float(steps[boundaries].mean() / steps.mean())
    if FLAGS.output_dir:
        os.makedirs(FLAGS.output_dir, exist_ok=True)
        Image.fromarray(np.round(out * 255).astype(np.uint8)).save(
            os.path.join(FLAGS.output_dir, f"stylized_{size}.png")
        )
    return result


def main(argv):
    del argv
    if FLAGS.child:
        print("RESULT " + json.dumps(_measure(FLAGS.child)), flush=True)
        return
    rows = []
    for size in (int(s) for s in FLAGS.sizes):
        command = [sys.executable, os.path.abspath(__file__), f"--child={size}"]
        if FLAGS.model:
            command.append(f"--model={FLAGS.model}")
        if FLAGS.output_dir:
            command.append(f"--output_dir={FLAGS.output_dir}")
        done = subprocess.run(command, capture_output=True, text=True)
        lines = [l for l in done.stdout.splitlines() if l.startswith("RESULT ")]
        if done.returncode or not lines:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            print(f"{size} px failed: {tail}")
            continue
        rows.append(json.loads(lines[-1][len("RESULT ") :]))
        print(f"measured {size} px", flush=True)
    print(
        f"\n{'size':>5} {'path':>9} {'seconds':>8} {'peak GiB':>8} "
        f"{'baseline GiB':>12} {'seam ratio':>10} {'vs whole':>9}"
    )
    for r in rows:
        vs = f"{r['vs_whole']:.1e}" if "vs_whole" in r else "-"
        print(
            f"{r['size']:>5} {r['path']:>9} {r['seconds']:>8.1f} "
            f"{r['peak'] / GIB:>8.2f} {r['baseline'] / GIB:>12.2f} "
            f"{r['seam_ratio']:>10.3f} {vs:>9}"
        )
    command = ["python benchmarks/large_images.py", f"--sizes={','.join(FLAGS.sizes)}"]
    if FLAGS.model:
        command.append(f"--model={FLAGS.model}")
    print("\nReproduce: " + " ".join(command))


if __name__ == "__main__":
    app.run(main)
