"""The model: its layers, the networks T and Lambda, the loss network and the losses.

Written with `keras.ops` alone, so it runs under every Keras backend, and
importing it under JAX or PyTorch does not import TensorFlow.

    layers         CIN, instance norm, reflection padding, pad/crop, gamma/beta split
    networks       T's layer table and its one pass, Lambda, the two stylizers
    loss_network   frozen VGG-19/16 features, caffe preprocessing inside
    losses         Gram, content and style losses, the EMA normalizer (Eq. 8)
"""
