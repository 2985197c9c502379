"""The Keras callbacks of a training run: progress, checkpoints, TensorBoard.

`RunCallback` saves a checkpoint every `save_every` steps (and has
`run_common` write the model files with it), writes the TensorBoard
scalars and preview images of each window of `log_every` steps, stops on a
NaN loss and at `train_steps`. `CompactProgbar` is Keras' progress bar for
those windows. Both work on every backend; TensorFlow is imported only to
write TensorBoard summaries, which only the TensorFlow run asks for.
"""

import contextlib
import signal
import sys
import time

import keras
import numpy as np
from absl import logging

from adjustable_style.model import networks

# Alphas of the TensorBoard preview images: none, each layer alone, all.
PREVIEW_ALPHAS = (
    (0.0, 0.0, 0.0),
    (1.0, 0.0, 0.0),
    (0.0, 1.0, 0.0),
    (0.0, 0.0, 1.0),
    (1.0, 1.0, 1.0),
)


def _is_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class CompactProgbar(keras.callbacks.ProgbarLogger):
    """Keras' progress bar for windows of steps, total and raw losses only.

    The normalized losses and EMAs still reach TensorBoard and the history;
    on a terminal they would wrap the bar over several lines. Each window
    (a Keras "epoch") is headed by the global steps it covers.
    """

    def __init__(self, verbose, train_steps):
        super().__init__()
        self._verbose = verbose
        self._train_steps = train_steps

    def set_params(self, params):
        verbose = self._verbose
        # The bar redraws itself with carriage returns and colour codes; in
        # a redirected log those are noise, so write a line per window.
        if verbose == 1 and not _is_terminal(sys.stdout):
            verbose = 2
        super().set_params({**params, "verbose": verbose})

    def on_epoch_begin(self, epoch, logs=None):
        self._reset_progbar()
        self._maybe_init_progbar()
        step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        last = min(step + self.target, self._train_steps)
        print(f"Steps {step + 1}-{last} of {self._train_steps}", flush=True)

    @staticmethod
    def _short(logs):
        return {
            k: v
            for k, v in (logs or {}).items()
            if not (k.endswith("_normalized") or k.startswith("ema_"))
        }

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, self._short(logs))

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, self._short(logs))


@contextlib.contextmanager
def _signals_deferred():
    """Holds SIGINT and SIGTERM back until the block ends, then delivers them.

    Python runs signal handlers in the main thread only, so swapping the
    handlers defers them whichever thread the signal arrived on.
    """
    caught = []
    previous = {}
    try:
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda number, frame: caught.append(number))
    except ValueError:  # Not the main thread: handlers cannot change.
        pass
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(caught):
            signal.raise_signal(signum)


class RunCallback(keras.callbacks.Callback):
    """Checkpoints, TensorBoard, NaN guard and the stop at `train_steps`."""

    def __init__(self, config, manager, writer, preview, stats, on_save=None):
        super().__init__()
        self.on_save = on_save
        self.config = config
        self.manager = manager
        self.writer = writer
        self.preview = preview
        self.stats = stats
        self.reported_bad = 0
        self.nan_step = None
        self.saved_step = None
        self.last_logs = {}
        self._step_time = time.time()
        self._first_step = 0
        self._steps_done = 0

    def on_train_begin(self, logs=None):
        self._first_step = self._iterations()
        self._steps_done = 0

    def _iterations(self):
        return int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

    def _step(self):
        # Counted, not read: JAX's `fit` writes its state back into the
        # variables only at the end of an epoch or when asked (`_sync`).
        return self._first_step + self._steps_done

    def _sync(self):
        """Makes the variables hold the latest state (JAX; a no-op elsewhere)."""
        sync = getattr(self.model, "jax_state_sync", None)
        if sync is not None:
            sync()

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        self._steps_done += 1
        loss = logs.get("loss")
        if loss is not None and not np.isfinite(float(loss)):
            self.nan_step = self._step()
            self.model.stop_training = True
            return
        step = self._step()
        if step % self.config.save_every == 0:
            # The record written with this save reports the window so far.
            self.last_logs = dict(logs)
            self._sync()
            # This step's loss was finite, but its update may not have been:
            # never write weights that are not.
            if not self._weights_finite():
                self.nan_step = step
                self.model.stop_training = True
                return
            # Ctrl-C or SIGTERM waits until the checkpoint and its record are
            # both written, so the record never misses a saved segment.
            with _signals_deferred():
                self.manager.save(checkpoint_number=step)
                self.saved_step = step
                if self.on_save is not None:
                    self.on_save(step)
        if step >= self.config.train_steps:
            self.model.stop_training = True

    def _weights_finite(self):
        return all(
            bool(np.isfinite(keras.ops.convert_to_numpy(v)).all())
            for v in self.model.stylizer.trainable_variables
        )

    def on_epoch_end(self, epoch, logs=None):
        if self.nan_step is not None:
            return
        logs = dict(logs or {})
        self.last_logs = logs
        step = self._step()
        now = time.time()
        if self.stats is not None and self.stats.bad > self.reported_bad:
            logging.warning("skipped %d undecodable content files so far", self.stats.bad)
            self.reported_bad = self.stats.bad
        if self.writer is None:
            return
        import tensorflow as tf

        with self.writer.as_default(step=step):
            for name, value in logs.items():
                tf.summary.scalar(
                    f"losses/{name}" if not name.startswith("ema_") else f"ema/{name[4:]}",
                    float(value),
                )
            tf.summary.scalar(
                "learning_rate",
                float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)),
            )
            tf.summary.scalar(
                "steps_per_second", self.config.log_every / max(now - self._step_time, 1e-9)
            )
            if self.preview is not None:
                tf.summary.image(
                    "stylized", self._preview_images(), step=step, max_outputs=len(PREVIEW_ALPHAS)
                )
        self.writer.flush()
        self._step_time = now

    def _preview_images(self):
        stylizer = self.model.stylizer
        if not networks.is_adjustable(stylizer):
            return stylizer(self.preview, training=False)
        alphas = np.array(PREVIEW_ALPHAS, np.float32)[
            :, : len(networks.style_layer_names(stylizer))
        ]
        content = np.repeat(self.preview, len(alphas), axis=0)
        return stylizer([content, alphas], training=False)
