"""The experiments' pictures, drawn with Pillow: Figure 7's curves, Figure 3's
sweep grid and the shared header of captioned thumbnails."""

import math

import numpy as np

from adjustable_style import images

# Tableau colours, as in matplotlib's default cycle.
COLOURS = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
)


def _font(size):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: bitmap font.
        return ImageFont.load_default()


def _nice_ticks(top, target=5):
    """Round tick values from 0 to at least `top`."""
    raw_step = top / target
    power = 10.0 ** math.floor(math.log10(raw_step))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw_step)
    count = int(math.ceil(top / step - 1e-9))
    return [round(i * step, 10) for i in range(count + 1)]


def _tick_label(value):
    return f"{value:.2f}".rstrip("0").rstrip(".") if value else "0"


def plot_figure7(alphas, panels, layer_names, title, subtitle):
    """Figure 7 as a uint8 image.

    `panels`: [(panel title, {layer: (median, q25, q75)})]. Drawn at twice
    the final size and downsampled, which smooths Pillow's lines.
    """
    from PIL import Image, ImageDraw

    s = 2  # Supersampling factor.
    panel_w, panel_h = 400 * s, 300 * s
    left, right, top, bottom = 78 * s, 24 * s, 92 * s, 96 * s
    gap = 70 * s
    width = left + len(panels) * panel_w + (len(panels) - 1) * gap + right
    height = top + panel_h + bottom
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    title_font, label_font, tick_font = _font(20 * s), _font(15 * s), _font(13 * s)
    black, grey, light = (0, 0, 0), (110, 110, 110), (225, 225, 225)

    highest = max(float(np.max(q75)) for _, curves in panels for (_, _, q75) in curves.values())
    ticks = _nice_ticks(max(1.0, highest) * 1.02)
    y_top = ticks[-1]
    x_ticks = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]

    draw.text((width // 2, 12 * s), title, fill=black, font=title_font, anchor="mt")
    draw.text((width // 2, 40 * s), subtitle, fill=grey, font=label_font, anchor="mt")

    for p, (panel_title, curves) in enumerate(panels):
        x0 = left + p * (panel_w + gap)
        y0 = top
        px = lambda a: x0 + a * panel_w
        py = lambda v: y0 + panel_h - (v / y_top) * panel_h
        for value in ticks:
            y = py(value)
            draw.line([(x0, y), (x0 + panel_w, y)], fill=light, width=s)
            draw.text((x0 - 8 * s, y), _tick_label(value), fill=black, font=tick_font, anchor="rm")
        for value in x_ticks:
            x = px(value)
            draw.line([(x, y0), (x, y0 + panel_h)], fill=light, width=s)
            draw.text(
                (x, y0 + panel_h + 8 * s),
                _tick_label(value),
                fill=black,
                font=tick_font,
                anchor="mt",
            )
        # Reference: no change from alpha_l = 0.
        y1 = py(1.0)
        for start in range(0, panel_w, 12 * s):
            draw.line(
                [(x0 + start, y1), (x0 + min(start + 6 * s, panel_w), y1)], fill=grey, width=s
            )
        # Interquartile bands first, translucent, then the median lines.
        overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
        overlay_draw = ImageDraw.Draw(overlay)
        for k, name in enumerate(layer_names):
            _, q25, q75 = curves[name]
            colour = COLOURS[k % len(COLOURS)]
            polygon = [(px(a), py(v)) for a, v in zip(alphas, q75)] + [
                (px(a), py(v)) for a, v in zip(alphas[::-1], q25[::-1])
            ]
            overlay_draw.polygon(polygon, fill=colour + (55,))
        image.paste(Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB"))
        draw = ImageDraw.Draw(image)
        for k, name in enumerate(layer_names):
            median = curves[name][0]
            colour = COLOURS[k % len(COLOURS)]
            points = [(px(a), py(v)) for a, v in zip(alphas, median)]
            draw.line(points, fill=colour, width=3 * s, joint="curve")
            r = 4 * s
            for x, y in points:
                draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)
        draw.rectangle([x0, y0, x0 + panel_w, y0 + panel_h], outline=black, width=s)
        draw.text(
            (x0 + panel_w // 2, y0 - 10 * s), panel_title, fill=black, font=label_font, anchor="mb"
        )
        draw.text(
            (x0 + panel_w // 2, y0 + panel_h + 32 * s),
            "alpha_l (the swept layer's style weight)",
            fill=black,
            font=label_font,
            anchor="mt",
        )
        # The y label, rotated.
        label = "L_l / L_l at alpha_l = 0"
        box = draw.textbbox((0, 0), label, font=label_font)
        text = Image.new("L", (box[2] + 4, box[3] + 4), 0)
        ImageDraw.Draw(text).text((2, 2), label, fill=255, font=label_font)
        text = text.rotate(90, expand=True)
        image.paste(
            Image.new("RGB", text.size, black),
            (x0 - 62 * s, y0 + (panel_h - text.size[1]) // 2),
            text,
        )

    # Legend: one entry per layer, centred below the panels.
    entries = []
    for k, name in enumerate(layer_names):
        box = draw.textbbox((0, 0), name, font=label_font)
        entries.append((name, COLOURS[k % len(COLOURS)], box[2]))
    swatch, spacing = 28 * s, 26 * s
    total = sum(swatch + 8 * s + w for _, _, w in entries) + spacing * (len(entries) - 1)
    x = (width - total) // 2
    y = height - 22 * s
    for name, colour, w in entries:
        draw.line([(x, y), (x + swatch, y)], fill=colour, width=3 * s)
        draw.ellipse(
            [x + swatch // 2 - 4 * s, y - 4 * s, x + swatch // 2 + 4 * s, y + 4 * s], fill=colour
        )
        draw.text((x + swatch + 8 * s, y), name, fill=black, font=label_font, anchor="lm")
        x += swatch + 8 * s + w + spacing
    small = image.resize((width // s, height // s), Image.Resampling.LANCZOS)
    return np.asarray(small)


def sweep_picture(content, style, cells, layer_names, alphas, title):
    """Figure 3: content and style in a header, then the sweep grid."""
    from adjustable_style.stylize import figures

    grid = figures.compose_grid(
        cells,
        row_labels=list(layer_names),
        col_labels=[f"{a:g}" for a in alphas],
        corner_label="alpha_l:",
    )
    return picture_with_header(grid, [(content, "content"), (style, "style")], title)


def picture_with_header(grid, thumbnails, title):
    """A grid (uint8) under a header: two title lines, then captioned thumbnails.

    `thumbnails`: [(image in [0, 1], caption)], each scaled to the height of
    the grid's cells (the first one's height, which is the photo's) and at
    most twice as wide; `title`: (line, smaller line). Shared by the
    experiments' pictures so they all look alike.
    """
    from PIL import Image, ImageDraw

    pictures = [Image.fromarray(images.to_uint8(image)) for image, _ in thumbnails]
    size = thumb_h = pictures[0].height
    for k, picture in enumerate(pictures):
        width = max(1, min(2 * thumb_h, round(picture.width * thumb_h / picture.height)))
        if picture.size != (width, thumb_h):
            pictures[k] = picture.resize((width, thumb_h), Image.Resampling.LANCZOS)

    font = _font(int(np.clip(size // 10, 11, 22)))
    small = _font(int(np.clip(size // 13, 10, 17)))
    pad = 8
    line_h = font.size + 6 if hasattr(font, "size") else 16
    caption_h = (small.size if hasattr(small, "size") else 12) + 6
    header_w = sum(p.width for p in pictures) + 3 * pad * (len(pictures) - 1)
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    title_w = max(
        measure.textbbox((0, 0), text, font=f)[2] for text, f in zip(title, (font, small))
    )
    width = max(grid.shape[1], header_w + 2 * pad, title_w + 2 * pad)
    header_h = pad + 2 * line_h + pad + thumb_h + caption_h + pad
    canvas = Image.new("RGB", (width, header_h + grid.shape[0]), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((pad, pad), title[0], fill=(0, 0, 0), font=font)
    draw.text((pad, pad + line_h), title[1], fill=(90, 90, 90), font=small)
    y = pad + 2 * line_h + pad
    x = (width - header_w) // 2
    for picture, (_, caption) in zip(pictures, thumbnails):
        canvas.paste(picture, (x, y))
        draw.text(
            (x + picture.width // 2, y + thumb_h + 3),
            caption,
            fill=(0, 0, 0),
            font=small,
            anchor="mt",
        )
        x += picture.width + 3 * pad
    canvas.paste(Image.fromarray(grid), ((width - grid.shape[1]) // 2, header_h))
    return np.asarray(canvas)
