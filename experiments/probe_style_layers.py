r"""Which VGG style layers give sliders that look different? A probe without training.

    python experiments/probe_style_layers.py --content=HELD_OUT_PHOTOS/ \
        --style_image=van_gogh_starry_night.jpg --vgg_weights=vgg19.weights.h5

A feed-forward stylizer can only be as adjustable as its objective: if
minimizing one layer's Gram loss already minimizes another's, no amount of
training makes their sliders look different. This probe asks the objective
directly, the way Gatys et al. do: it optimizes the pixels of each photo
(Adam, from the photo) for

    content_weight * L_c / mean(F_c^2) + sum_l w_l * L_l / L_l(photo)

with every candidate style layer alone (w = one-hot), and with every
candidate layer set all on, and all on but one. Each style loss is divided
by the photo's own (so 1 means "no closer to the style than the photo"),
which plays the part of Eq. 8's normalization. Every image of a photo is
optimized in one batch, so the whole probe is a few hundred VGG passes.

It reports, as medians over photos:
- cross-reduction: L_m after optimizing layer l alone, over L_m(photo). A
  row close to the diagonal's value everywhere means that layer l alone
  already paints what layer m asks for: the two sliders are redundant;
- for each layer set, the mean absolute difference (levels of 255) of every
  pair of single-layer results, the element size of each (px; what
  stylization adds, as in adjustability.py), and how much the result moves
  when one layer is switched off with the others on ("others at 1" in the
  issue's words), with that layer's own loss ratio on and off.

Outputs in --output_dir: probe.json, probe.md and one picture per photo
(rows: the single-layer results, then each set's all-on and leave-one-out).
"""

if __name__ == "__main__":
    import _path  # noqa: F401  (the repository on sys.path)

import itertools
import json
import os
import time

import numpy as np
from absl import app, flags

from adjustable_style import image_files
from experiments.measures import element_size, mean_abs_levels

FLAGS = flags.FLAGS
flags.DEFINE_string("content", None, "Held-out photos: a file, folder, glob or list.")
flags.DEFINE_string("style_image", None, "The style image.")
flags.DEFINE_string("vgg_weights", None, "A Keras VGG-19 weights file (include_top=False).")
flags.DEFINE_integer("image_size", 256, "Photos: shorter side resized to this, centre-cropped.")
flags.DEFINE_string(
    "style_scale",
    "short:256",
    "The style image's size for its Grams: 'short:N' (shorter side N px, as "
    "training's --style_image_size) or 'long:N' (longer side N px).",
)
flags.DEFINE_integer("max_images", 3, "Photos used (the first N, sorted).")
flags.DEFINE_integer("iterations", 200, "Adam steps on the pixels.")
flags.DEFINE_float("learning_rate", 0.02, "Adam's step on pixels in [0, 1].")
flags.DEFINE_float("content_weight", 1.0, "Weight of the relative content loss.")
flags.DEFINE_list(
    "sets",
    [
        "paper=block2_conv2+block3_conv4+block4_conv4",
        "spread=block1_conv2+block3_conv1+block5_conv1",
        "johnson4=block1_conv2+block2_conv2+block3_conv4+block4_conv4",
        "b1b3b4=block1_conv2+block3_conv4+block4_conv4",
    ],
    "Layer sets to compare: NAME=layer+layer+...",
)
flags.DEFINE_bool(
    "mixed_precision",
    False,
    "Run VGG in bfloat16 (about twice as fast on CPUs with AVX512_BF16 or AMX); "
    "losses and pixels stay float32.",
)
flags.DEFINE_string("output_dir", None, "Where results go (required).")

CONTENT_LAYER = "block3_conv4"


def parse_sets(entries):
    sets = {}
    for entry in entries:
        name, _, layers = entry.partition("=")
        if not layers:
            raise app.UsageError(f"--sets entry {entry!r} is not NAME=layer+layer")
        sets[name] = tuple(layers.split("+"))
    return sets


def load_style(path, scale):
    from PIL import Image

    kind, _, size = scale.partition(":")
    if kind not in ("short", "long") or not size.isdigit():
        raise app.UsageError(f"--style_scale {scale!r} is not short:N or long:N")
    image = Image.open(path).convert("RGB")
    side = min(image.size) if kind == "short" else max(image.size)
    factor = int(size) / side
    image = image.resize(
        (max(1, round(image.width * factor)), max(1, round(image.height * factor))),
        Image.LANCZOS,
    )
    return np.asarray(image, np.float32) / 255.0


def load_photo(path, size):
    from PIL import Image

    image = Image.open(path).convert("RGB")
    factor = size / min(image.size)
    image = image.resize(
        (max(size, round(image.width * factor)), max(size, round(image.height * factor))),
        Image.LANCZOS,
    )
    left = (image.width - size) // 2
    top = (image.height - size) // 2
    image = image.crop((left, top, left + size, top + size))
    return np.asarray(image, np.float32) / 255.0


def configurations(layers, sets):
    """(name, {layer: weight}) for every image optimized per photo."""
    configs = [(f"only {layer}", {layer: 1.0}) for layer in layers]
    for set_name, members in sets.items():
        configs.append((f"{set_name}: all", {layer: 1.0 for layer in members}))
        for off in members:
            configs.append(
                (f"{set_name}: all but {off}", {layer: 1.0 for layer in members if layer != off})
            )
    return configs


def optimize(loss_net, photo, style_grams, configs, layers, fv):
    """Optimizes one image per config from `photo`; returns images and loss ratios."""
    import tensorflow as tf

    from adjustable_style.model import losses

    weights = np.array(
        [[config.get(layer, 0.0) for layer in layers] for _, config in configs], np.float32
    )
    photo_batch = tf.constant(photo[None])
    photo_feats = loss_net(photo_batch, training=False)
    content_target = photo_feats[CONTENT_LAYER]
    content_scale = float(tf.reduce_mean(tf.square(content_target)))

    def style_losses(feats):
        return tf.stack([losses.style_loss(feats[name], style_grams[name]) for name in layers], 1)

    photo_style = style_losses(photo_feats).numpy()[0]
    weights_t = tf.constant(weights / photo_style[None, :])
    image = tf.Variable(np.repeat(photo[None], len(configs), axis=0))
    optimizer = tf.keras.optimizers.Adam(fv.learning_rate)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            feats = loss_net(image, training=False)
            content = losses.content_loss(feats[CONTENT_LAYER], content_target) / content_scale
            total = tf.reduce_sum(
                fv.content_weight * content + tf.reduce_sum(weights_t * style_losses(feats), 1)
            )
        optimizer.apply_gradients([(tape.gradient(total, image), image)])
        image.assign(tf.clip_by_value(image, 0.0, 1.0))
        return total

    for iteration in range(1, fv.iterations + 1):
        total = step()
        if iteration % 20 == 0:
            print(f"  step {iteration}: objective {float(total):.3f}", flush=True)
    feats = loss_net(image, training=False)
    ratios = style_losses(feats).numpy() / photo_style[None, :]
    return image.numpy(), ratios


def picture(photo, results, configs, path):
    from PIL import Image, ImageDraw

    size = photo.shape[0]
    columns = 6
    tiles = [("photo", photo)] + [(name, image) for (name, _), image in zip(configs, results)]
    rows = -(-len(tiles) // columns)
    label = 14
    canvas = Image.new("RGB", (columns * size, rows * (size + label)), "white")
    draw = ImageDraw.Draw(canvas)
    for index, (name, image) in enumerate(tiles):
        x, y = (index % columns) * size, (index // columns) * (size + label)
        canvas.paste(Image.fromarray(np.uint8(np.clip(image, 0, 1) * 255 + 0.5)), (x, y + label))
        draw.text((x + 2, y + 1), name, fill="black")
    canvas.save(path, quality=88)


def main(argv):
    del argv
    for name in ("content", "style_image", "vgg_weights", "output_dir"):
        if not getattr(FLAGS, name):
            raise app.UsageError(f"--{name} is required")
    import keras

    from adjustable_style.model import loss_network, losses

    if FLAGS.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    sets = parse_sets(FLAGS.sets)
    layers = sorted({layer for members in sets.values() for layer in members})
    spec = loss_network.LossNetworkSpec("vgg19", CONTENT_LAYER, tuple(layers))
    loss_net = loss_network.build_loss_network(spec, FLAGS.vgg_weights)
    style = load_style(FLAGS.style_image, FLAGS.style_scale)
    style_feats = loss_net(style[None], training=False)
    style_grams = {name: losses.gram_matrix(style_feats[name]) for name in layers}
    configs = configurations(layers, sets)
    photos = image_files.list_image_files(FLAGS.content)[: FLAGS.max_images]
    os.makedirs(FLAGS.output_dir, exist_ok=True)

    per_photo = []
    started = time.time()
    for index, path in enumerate(photos):
        photo = load_photo(path, FLAGS.image_size)
        results_images, ratios = optimize(loss_net, photo, style_grams, configs, layers, FLAGS)
        by_name = {
            name: (image, ratio) for (name, _), image, ratio in zip(configs, results_images, ratios)
        }
        record = {"photo": os.path.basename(path), "cross_reduction": {}, "sets": {}}
        for layer in layers:
            record["cross_reduction"][layer] = dict(
                zip(layers, map(float, by_name[f"only {layer}"][1]))
            )
        for set_name, members in sets.items():
            singles = {layer: by_name[f"only {layer}"][0] for layer in members}
            full_image, full_ratio = by_name[f"{set_name}: all"]
            record["sets"][set_name] = {
                "pairwise_levels": {
                    f"{a} vs {b}": mean_abs_levels(singles[a], singles[b])
                    for a, b in itertools.combinations(members, 2)
                },
                "element_size_px": {
                    layer: element_size(singles[layer], photo) for layer in members
                },
                "switch_off_levels": {
                    off: mean_abs_levels(full_image, by_name[f"{set_name}: all but {off}"][0])
                    for off in members
                },
                "own_ratio_all_on": {
                    layer: float(full_ratio[layers.index(layer)]) for layer in members
                },
                "own_ratio_switched_off": {
                    off: float(by_name[f"{set_name}: all but {off}"][1][layers.index(off)])
                    for off in members
                },
            }
        per_photo.append(record)
        picture(
            photo,
            results_images,
            configs,
            os.path.join(FLAGS.output_dir, f"probe_{os.path.splitext(record['photo'])[0]}.jpg"),
        )
        print(
            f"{index + 1}/{len(photos)} {record['photo']}: {time.time() - started:.0f} s",
            flush=True,
        )

    def median(get):
        return float(np.median([get(record) for record in per_photo]))

    summary = {"cross_reduction": {}, "sets": {}}
    for a in layers:
        summary["cross_reduction"][a] = {
            b: median(lambda r, a=a, b=b: r["cross_reduction"][a][b]) for b in layers
        }
    for set_name in sets:
        first = per_photo[0]["sets"][set_name]
        summary["sets"][set_name] = {
            key: {
                item: median(lambda r, s=set_name, k=key, i=item: r["sets"][s][k][i])
                for item in first[key]
            }
            for key in first
        }
    results = {
        "command": {
            "content": "HELD_OUT_PHOTOS/",
            "style_image": os.path.basename(FLAGS.style_image),
            "style_scale": FLAGS.style_scale,
            "image_size": FLAGS.image_size,
            "iterations": FLAGS.iterations,
            "learning_rate": FLAGS.learning_rate,
            "content_weight": FLAGS.content_weight,
            "sets": FLAGS.sets,
            "max_images": FLAGS.max_images,
            "mixed_precision": FLAGS.mixed_precision,
        },
        "photos": [record["photo"] for record in per_photo],
        "seconds": round(time.time() - started, 1),
        "median": summary,
        "per_photo": per_photo,
    }
    with open(os.path.join(FLAGS.output_dir, "probe.json"), "w") as file:
        json.dump(results, file, indent=1)
    with open(os.path.join(FLAGS.output_dir, "probe.md"), "w") as file:
        file.write(report(results, layers, sets))
    print(report(results, layers, sets))


def command_line(command):
    """The probe's reproducing command, with placeholders for this machine's paths."""
    parts = [
        "python experiments/probe_style_layers.py",
        f"--content={command['content']}",
        f"--style_image={command['style_image']}",
        "--vgg_weights=vgg19.weights.h5",
        f"--style_scale={command['style_scale']}",
        f"--image_size={command['image_size']}",
        f"--max_images={command.get('max_images', 3)}",
        f"--iterations={command['iterations']}",
        f"--learning_rate={command['learning_rate']:g}",
        f"--content_weight={command['content_weight']:g}",
        f"--sets={','.join(command['sets'])}",
    ]
    if command.get("mixed_precision"):
        parts.append("--mixed_precision")
    return " ".join(parts) + " --output_dir=OUTPUT_DIR"


def report(results, layers, sets):
    short = {layer: layer.replace("block", "b").replace("_conv", "_") for layer in layers}
    lines = [
        f"# Style-layer probe: {results['command']['style_image']}, style at "
        f"{results['command']['style_scale']}, {len(results['photos'])} photos at "
        f"{results['command']['image_size']} px",
        "",
        "Produced by:",
        "",
        "    " + command_line(results["command"]),
        "",
        "Medians over photos. Cross-reduction: L_m / L_m(photo) after optimizing the row's "
        "layer alone.",
        "",
        "| alone \\ measured | " + " | ".join(short[b] for b in layers) + " |",
        "|---|" + "---:|" * len(layers),
    ]
    cross = results["median"]["cross_reduction"]
    for a in layers:
        lines.append(f"| {short[a]} | " + " | ".join(f"{cross[a][b]:.2f}" for b in layers) + " |")
    for set_name, members in sets.items():
        data = results["median"]["sets"][set_name]
        lines += ["", f"## {set_name}: {', '.join(members)}", ""]
        pairs = data["pairwise_levels"]
        lines.append(
            "- single-layer results, pairwise mean difference (levels): "
            + ", ".join(f"{k.replace('block', 'b')} {v:.1f}" for k, v in pairs.items())
        )
        lines.append(
            "- element size (px): "
            + ", ".join(f"{short[k]} {v:.1f}" for k, v in data["element_size_px"].items())
        )
        lines.append(
            "- one layer off, others on: change (levels) and its own loss ratio on -> off: "
            + ", ".join(
                f"{short[k]} {data['switch_off_levels'][k]:.1f} "
                f"({data['own_ratio_all_on'][k]:.2f} -> {data['own_ratio_switched_off'][k]:.2f})"
                for k in members
            )
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    app.run(main)
