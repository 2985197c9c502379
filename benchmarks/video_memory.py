r"""Peak memory of `stylize.py` on video: flat in the clip's length.

    python benchmarks/video_memory.py [--seconds=15,60] [--size=1280x720] \
        [--fps=24] [--max_size=0] [--model=starry_night]

Makes a test-pattern clip with a sine tone for each length (ffmpeg's
lavfi sources, H.264 + AAC), runs the real command on it, and reports the
peak resident memory of the stylize process (VmHWM, from /proc) and of the
largest ffmpeg it runs, with the frames per second. Streaming means the two
lengths give the same peak; a command that held the frames would need
`frames x height x width x 3` bytes more (printed for comparison).
`--max_size` stylizes smaller frames (the decoder still reads the full
size), for machines where full-size frames would take too long.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_clip(path, seconds, size, fps):
    import imageio_ffmpeg

    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-nostdin", "-y"]
        + ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={fps}:duration={seconds}"]
        + ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
        + ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", path],
        check=True,
    )


def _kib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def measure(command):
    """(seconds, peak KiB of the process, peak KiB of its largest child)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    peak, child_peak = 0, 0
    while process.poll() is None:
        peak = max(peak, _kib(process.pid, "VmHWM"))
        for child in _children(process.pid):
            child_peak = max(child_peak, _kib(child, "VmHWM"))
        time.sleep(0.1)
    output = process.stdout.read().strip()
    if process.returncode != 0:
        sys.exit(f"stylize.py failed ({process.returncode})")
    return time.perf_counter() - start, peak, child_peak, output


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", default="15,60")
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--max_size", type=int, default=0)
    parser.add_argument("--model", default="starry_night")
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))
    with tempfile.TemporaryDirectory() as folder:
        for seconds in [float(s) for s in args.seconds.split(",")]:
            clip = os.path.join(folder, f"clip_{seconds:g}s.mp4")
            make_clip(clip, seconds, args.size, args.fps)
            out = os.path.join(folder, f"out_{seconds:g}s.mp4")
            elapsed, peak, child_peak, line = measure(
                [sys.executable, os.path.join(REPO, "stylize.py"), f"--model={args.model}"]
                + [f"--content={clip}", f"--output={out}", f"--max_size={args.max_size}"]
            )
            frames = int(round(seconds * args.fps))
            held = frames * width * height * 3 / 2**20
            print(
                f"{seconds:g} s {args.size} ({frames} frames), max_size {args.max_size}: "
                f"peak RSS {peak / 1024:.0f} MiB (stylize), {child_peak / 1024:.0f} MiB "
                f"(largest ffmpeg); {frames / elapsed:.1f} fps overall; holding the "
                f"decoded frames would take {held:.0f} MiB more"
            )
            print(f"  {line}")


if __name__ == "__main__":
    main()
