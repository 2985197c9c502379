"""Adjustable real-time style transfer in TensorFlow/Keras.

A feed-forward stylizing network whose conditional instance normalization
parameters are predicted from a vector alpha of per-style-layer weights, so the
look of the stylization can be changed after training (Babaeizadeh & Ghiasi,
"Adjustable Real-time Style Transfer", ICLR 2020).
"""

__version__ = "0.1.0"
