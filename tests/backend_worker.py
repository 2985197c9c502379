"""Runs the model and one short training under the backend in KERAS_BACKEND.

`tests/test_backends.py` runs `main` on another backend (Keras fixes its
backend at import time: on JAX in the shared `backend_server.py` process,
on PyTorch in a subprocess), with TensorFlow hidden as on a machine
without it, and compares what it writes with the same computation under
TensorFlow in the test process:

    KERAS_BACKEND=torch python tests/without_tensorflow.py \
        tests/backend_worker.py INPUT_DIR OUTPUT_DIR

INPUT_DIR holds `stylizer.keras` and `vgg19.weights.h5` (both written
under TensorFlow) and `arrays.npz` (content, style, alpha, and odd and
tiny content sizes). OUTPUT_DIR
receives `results.json`, `arrays.npz` and this backend's trained
`stylizer.keras`.

`run_training` is also what the test process runs on TensorFlow, so the
two sides do the same steps.
"""

import json
import os
import sys
import time

import numpy as np

STEPS = 5


def _floats(logs):
    return {name: float(np.asarray(value)) for name, value in logs.items()}


def _numpy(x):
    import keras

    return np.asarray(keras.ops.convert_to_numpy(x))


def make_trainer(stylizer, vgg, spec, style, **kwargs):
    import keras

    from adjustable_style.training import trainer

    t = trainer.StyleTransferTrainer(stylizer, vgg, spec, style, seed=0, **kwargs)
    # SGD with momentum, not Adam: Adam's first step is lr * sign(g), which
    # turns a rounding-level difference in a near-zero gradient into a whole
    # step, so backends would agree after it only to ~1e-3. SGD keeps the
    # update linear in the gradient, and momentum gives the optimizer a
    # slot per weight for the checkpoint to carry. The random VGG's
    # gradients are large (~1e4 per weight): hence the learning rate.
    t.compile(optimizer=keras.optimizers.SGD(1e-8, momentum=0.9))
    # As a run does: slots exist before a checkpoint is restored into them.
    t.optimizer.build(t.stylizer.trainable_variables)
    return t


def run_training(input_dir, output_dir):
    """The steps both sides take; returns (results, arrays)."""
    import keras

    from adjustable_style.model import loss_network, networks

    with np.load(os.path.join(input_dir, "arrays.npz")) as stored:
        data = dict(stored)
    content, style, alpha = data["content"], data["style"], data["alpha"]
    results, arrays = {"backend": keras.backend.backend()}, {}

    stylizer = keras.saving.load_model(os.path.join(input_dir, "stylizer.keras"))
    arrays["loaded_output"] = _numpy(stylizer([content, alpha]))
    # Sizes that take the mirror padding to a multiple of 4 (and to 8).
    for name in ("odd", "tiny"):
        arrays[f"{name}_output"] = _numpy(stylizer([data[name], alpha[:1]]))
    spec = loss_network.default_spec("vgg19")
    vgg = loss_network.build_loss_network(spec, weights=os.path.join(input_dir, "vgg19.weights.h5"))
    arrays["features"] = _numpy(vgg(content)[spec.content_layer])
    t = make_trainer(stylizer, vgg, spec, style)
    results["same_variables"] = [v.path for v in t.trainable_variables] == [
        v.path for v in t.stylizer.trainable_variables
    ]

    # One step from the shared weights, data and alpha; then the losses of
    # the updated weights, which only the gradients and Adam decide.
    started = time.perf_counter()
    results["first_step"] = _floats(t.train_on_batch(content, alpha, return_dict=True))
    results["first_step_seconds"] = time.perf_counter() - started
    arrays["raw_after_one_step"] = _numpy(t.compute_raw_losses(content, alpha)[1])
    arrays["ema_after_one_step"] = _numpy(t.normalizer.ema)

    # A checkpoint: the next step taken twice, before and after restoring.
    state = os.path.join(output_dir, "state.weights.h5")
    t.save_weights(state)
    resumed_from = [_numpy(v) for v in t.weights]
    optimizer_state = [_numpy(v) for v in t.optimizer.variables]
    step_two = _floats(t.train_on_batch(content, alpha, return_dict=True))
    # A step's logs are those of the weights before its update; the losses
    # after it also depend on the optimizer's slots.
    after_two = _numpy(t.compute_raw_losses(content, alpha)[1])
    t.load_weights(state)
    results["iterations_after_restore"] = int(_numpy(t.optimizer.iterations))
    results["step_two"] = step_two
    results["step_two_again"] = _floats(t.train_on_batch(content, alpha, return_dict=True))
    results["after_step_two_repeats"] = bool(
        np.array_equal(after_two, _numpy(t.compute_raw_losses(content, alpha)[1]))
    )
    # ... and a fresh trainer restored from it holds the same state.
    fresh = make_trainer(networks.build_adjustable_stylizer(spec.style_layers), vgg, spec, style)
    fresh.load_weights(state)
    results["fresh_restore_matches"] = all(
        np.array_equal(a, _numpy(b)) for a, b in zip(resumed_from, fresh.weights)
    )
    results["fresh_optimizer_matches"] = len(optimizer_state) == len(
        fresh.optimizer.variables
    ) > 2 and all(
        np.array_equal(a, _numpy(b)) for a, b in zip(optimizer_state, fresh.optimizer.variables)
    )
    results["fresh_iterations"] = int(_numpy(fresh.optimizer.iterations))

    # A few more steps on the same batch: the objective falls.
    results["losses"] = [step_two["loss"]] + [
        _floats(t.train_on_batch(content, alpha, return_dict=True))["loss"] for _ in range(STEPS)
    ]

    # `fit` on numpy batches without alpha: drawn per sample and step.
    dataset = ContentBatches(content)
    history = t.fit(dataset, epochs=1, steps_per_epoch=2, verbose=0)
    results["fit_loss"] = float(history.history["loss"][-1])
    results["iterations"] = int(_numpy(t.optimizer.iterations))
    results["count"] = int(_numpy(t.normalizer.count))
    seeds = [keras.ops.convert_to_tensor([0, s], "int32") for s in (0, 1, 0)]
    draws = [_numpy(t._loss_weights(4, s)) for s in seeds]
    results["draws_repeat"] = bool(np.array_equal(draws[0], draws[2]))
    results["draws_differ_by_step"] = not np.allclose(draws[0], draws[1])
    results["draws_in_unit_cube"] = bool(all(((d >= 0) & (d <= 1)).all() for d in draws))
    logs = t.evaluate(content, batch_size=len(content), verbose=0, return_dict=True)
    results["evaluate_loss"] = float(logs["loss"])

    t.stylizer.save(os.path.join(output_dir, "stylizer.keras"))
    arrays["trained_output"] = _numpy(t.stylizer([content, alpha]))
    return results, arrays


def ContentBatches(content):
    """A `keras.utils.PyDataset` of numpy content batches (no alpha)."""
    import keras

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 2

        def __getitem__(self, index):
            return content

    return Batches()


def main(input_dir, output_dir):
    import importlib.util

    import keras

    results, arrays = run_training(input_dir, output_dir)
    results["tensorflow_imported_by_modules"] = "tensorflow" in sys.modules
    # Run through without_tensorflow.py, where `import tensorflow` fails.
    results["tensorflow_importable"] = importlib.util.find_spec("tensorflow") is not None
    results["keras_backend"] = keras.backend.backend()
    np.savez(os.path.join(output_dir, "arrays.npz"), **arrays)
    with open(os.path.join(output_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    main(sys.argv[1], sys.argv[2])
