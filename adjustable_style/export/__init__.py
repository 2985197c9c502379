"""Exports of a trained stylizer, each checked against Keras before it is written.

saved_model   the SavedModel module (TF Hub-style __call__, TF Serving
              signatures) and the TFLite conversion
onnx          the ONNX conversion (tf2onnx), checked in onnxruntime
"""
