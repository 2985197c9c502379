"""Pictures made of many stylized images: labelled grids and animations.

`compose_grid` lays out a sweep (the paper's Figures 3 and 9) with its
alphas as labels; `save_animation` writes an alpha walk as a looping GIF,
WebP (Pillow) or MP4 (imageio with ffmpeg).
"""

import numpy as np

from adjustable_style import images
from adjustable_style.errors import UsageError

# White space between the cells of a grid, in pixels.
SWEEP_GAP = 4


def _font(size):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: bitmap font.
        return ImageFont.load_default()


def compose_grid(cells, row_labels=None, col_labels=None, corner_label=None, gap=SWEEP_GAP):
    """Lays out `cells` [R, C, H, W, 3] (floats in [0, 1]) on white.

    Cells are `gap` pixels apart. With labels, a column of row labels goes
    on the left and a row of column labels on top, with `corner_label`
    right-aligned in the corner between them (it names what the columns
    vary). Returns uint8 [h, w, 3].
    """
    from PIL import Image, ImageDraw

    cells = np.asarray(cells)
    rows, cols, h, w = cells.shape[:4]
    pixels = images.to_uint8(cells)
    grid_h, grid_w = rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap
    left = top = 0
    font = pad = None
    if row_labels is not None or col_labels is not None:
        font = _font(int(np.clip(min(h, w) // 12, 10, 32)))
        pad = max(2, font.size // 3 if hasattr(font, "size") else 3)
        measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
        box = lambda text: measure.textbbox((0, 0), text, font=font)
        if row_labels is not None:
            left = max(box(t)[2] for t in row_labels + [corner_label or ""]) + 2 * pad
        if col_labels is not None:
            top = max(box(t)[3] for t in col_labels) + 2 * pad
    canvas = np.full((top + grid_h, left + grid_w, 3), 255, np.uint8)
    for r in range(rows):
        for c in range(cols):
            y, x = top + r * (h + gap), left + c * (w + gap)
            canvas[y : y + h, x : x + w] = pixels[r, c]
    if font is None:
        return canvas
    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    for r, text in enumerate(row_labels or []):
        y = top + r * (h + gap) + h // 2
        draw.text((pad, y), text, fill=(0, 0, 0), font=font, anchor="lm")
    for c, text in enumerate(col_labels or []):
        x = left + c * (w + gap) + w // 2
        draw.text((x, top - pad), text, fill=(0, 0, 0), font=font, anchor="mb")
    if corner_label:
        draw.text((left - pad, top - pad), corner_label, fill=(0, 0, 0), font=font, anchor="rb")
    return np.asarray(image)


def check_mp4_support():
    try:
        import imageio  # noqa: F401
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        raise UsageError(
            "writing .mp4 needs imageio with ffmpeg (pip install 'imageio[ffmpeg]'); or save a .gif"
        ) from None


def save_animation(frames, path, fps, fmt):
    """Writes uint8 frames [F, H, W, 3] as a looping GIF, WebP or MP4."""
    frames = np.asarray(frames)
    if fmt == ".mp4":
        check_mp4_support()
        import imageio.v2 as imageio

        # H.264 in yuv420p needs even sizes: repeat the last row or column
        # rather than let imageio resample the picture.
        _, h, w, _ = frames.shape
        frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        imageio.mimwrite(path, list(frames), format="FFMPEG", fps=fps, macro_block_size=2)
        return
    from PIL import Image

    pictures = [Image.fromarray(f) for f in frames]
    duration = int(round(1000.0 / fps))
    if fmt == ".gif":
        pictures[0].save(
            path, format="GIF", save_all=True, append_images=pictures[1:], duration=duration, loop=0
        )
    else:
        pictures[0].save(
            path,
            format="WEBP",
            save_all=True,
            append_images=pictures[1:],
            duration=duration,
            loop=0,
            quality=90,
        )
