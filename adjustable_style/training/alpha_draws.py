"""The alpha draws of a training step: a pure function of (seed, step, replica).

Shared by the paper's objective (`trainer`) and distillation (`distill`),
so both see the alpha cube alike: U(0, 1) per sample and style layer, each
entry snapped to 0 or 1 with the run's `--alpha_edge_probability`, so the
cube's faces and corners (alpha = 0, one layer alone) come up often.
"""

import keras
from keras import ops

_BACKEND = keras.backend.backend()


def replica_context_info():
    """(replica id, replica count) of the running step.

    Only TensorFlow replicates the step; JAX's data parallelism compiles
    one program over the global batch, and torch runs one process here.
    """
    if _BACKEND != "tensorflow":
        return 0, 1
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    strategy = tf.distribute.get_strategy()
    if context is None:  # Cross-replica context: act as a single replica.
        return tf.constant(0, tf.int32), 1
    return (tf.cast(context.replica_id_in_sync_group, tf.int32), strategy.num_replicas_in_sync)


def stateless_uniform(shape, seed):
    """U(0, 1) float32 draws that depend only on `seed`, an int32 pair.

    `keras.random` takes an int or a `SeedGenerator`, neither of which can
    be a traced value of the step counter; the alpha draws must be a pure
    function of (seed, step, replica), so that a resumed run draws what the
    original would, on every backend. Each backend has its own generator:
    the draws differ between backends, never between runs of one.
    """
    if _BACKEND == "jax":
        import jax

        seed = ops.cast(seed, "int32")
        key = jax.random.fold_in(jax.random.key(seed[0]), seed[1])
        return jax.random.uniform(key, tuple(shape), dtype="float32")
    if _BACKEND == "torch":
        import torch

        first, second = (int(v) & 0xFFFFFFFF for v in ops.convert_to_numpy(seed))
        # Drawn on the CPU, so the draws do not depend on the device;
        # `convert_to_tensor` moves them to Keras' device.
        generator = torch.Generator().manual_seed((first << 32) | second)
        draws = torch.rand(tuple(int(n) for n in shape), generator=generator, dtype=torch.float32)
        return ops.convert_to_tensor(draws)
    import tensorflow as tf

    return tf.random.stateless_uniform(shape, seed=seed)


def draw_alpha(batch_size, num_style, edge_probability, seed):
    """(B, L) alphas: U(0, 1), each entry snapped to 0 or 1 with `edge_probability`."""
    if not edge_probability:
        return stateless_uniform((batch_size, num_style), seed)
    # Three independent uniforms per entry: the value, whether to snap it,
    # and to which end.
    draws = stateless_uniform((batch_size, num_style, 3), seed)
    snap = draws[..., 1] < edge_probability
    end = ops.cast(draws[..., 2] < 0.5, "float32")
    return ops.where(snap, end, draws[..., 0])


def step_seed(seed, optimizer):
    """The int32 seed pair of this step's draws: (seed, step * replicas + replica)."""
    replica, replicas = replica_context_info()
    step = (
        ops.cast(optimizer.iterations, "int32") if optimizer else ops.convert_to_tensor(0, "int32")
    )
    return ops.stack([ops.convert_to_tensor(seed, "int32"), step * replicas + replica])
