r"""Seconds per training step, with and without XLA, side by side.

    python benchmarks/training_step.py --configs=256x8,128x4 --steps=3 --rounds=2

Each configuration (crop size x batch) is built twice, once compiled with
`jit_compile=False` and once with `True`, warmed up, then timed in
interleaved rounds so that both see the same machine load. The loss network
has random weights (speed does not depend on them) and the content is
synthetic, so the numbers are the step itself, not the input pipeline.
Medians per configuration, and the XLA/plain ratio of each round.
"""

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags, logging

flags.DEFINE_list("configs", ["256x8", "128x4"], "SIZExBATCH entries.")
flags.DEFINE_integer("steps", 3, "Timed steps per round.")
flags.DEFINE_integer("rounds", 2, "Interleaved rounds.")
flags.DEFINE_enum("loss_network", "vgg19", ["vgg19", "vgg16"], "Loss network.")
FLAGS = flags.FLAGS


def _trainer(spec, vgg, size, batch, jit):
    import keras
    import numpy as np
    import tensorflow as tf
    from adjustable_style import networks, trainer

    keras.utils.set_random_seed(0)
    stylizer = networks.build_adjustable_stylizer(spec.style_layers)
    style = np.random.default_rng(0).random((size, size, 3), np.float32)
    t = trainer.StyleTransferTrainer(stylizer, vgg, spec, style)
    t.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit)
    content = np.random.default_rng(1).random((batch, size, size, 3), np.float32)
    data = tf.data.Dataset.from_tensors(content).repeat()
    t.fit(data, steps_per_epoch=2, epochs=1, verbose=0)  # trace, compile, warm up
    return t, data


def main(argv):
    del argv
    import numpy as np
    from adjustable_style import loss_network

    logging.set_verbosity(logging.ERROR)
    spec = loss_network.default_spec(FLAGS.loss_network)
    vgg = loss_network.build_loss_network(spec, weights="random")
    configs = []
    for entry in FLAGS.configs:
        size, batch = (int(v) for v in entry.lower().split("x"))
        for jit in (False, True):
            print(f"building {size} px, batch {batch}, XLA {'on' if jit else 'off'}",
                  flush=True)
            configs.append(((size, batch, jit), *_trainer(spec, vgg, size, batch, jit)))
    times = {key: [] for key, _, _ in configs}
    for _ in range(FLAGS.rounds):
        for key, t, data in configs:
            start = time.perf_counter()
            t.fit(data, steps_per_epoch=FLAGS.steps, epochs=1, verbose=0)
            times[key].append((time.perf_counter() - start) / FLAGS.steps)

    print(f"\n{'size':>5} {'batch':>5} {'XLA off s/step':>15} {'XLA on s/step':>14} "
          f"{'on/off':>7}")
    for entry in FLAGS.configs:
        size, batch = (int(v) for v in entry.lower().split("x"))
        off, on = times[(size, batch, False)], times[(size, batch, True)]
        ratio = np.median(np.array(on) / np.array(off))
        print(f"{size:>5} {batch:>5} {np.median(off):>15.2f} {np.median(on):>14.2f} "
              f"{ratio:>7.2f}")
    print("\nReproduce: python benchmarks/training_step.py "
          f"--configs={','.join(FLAGS.configs)} --steps={FLAGS.steps} "
          f"--rounds={FLAGS.rounds} --loss_network={FLAGS.loss_network}")


if __name__ == "__main__":
    app.run(main)
