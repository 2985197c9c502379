"""Inference: a trained stylizer's arithmetic, rearranged for speed.

One concern per module, from the bottom up:

    kernels          convolutions rearranged (sub-pixel, by rows, as matrix
                     products) and the padding they need
    norms            instance norm as inference computes it, tensor and numpy
    map_statistics   instance norm under an alpha map (regions, statistics)
    graph            StylizerGraph: T's one forward pass with the
                     normalization passed in; what the exports save
    streaming        very large images, layer by layer over strips
    stylizer         FastStylizer: the graph, Lambda's cache, the dispatch
    precision        --precision: float32, bfloat16, or chosen per size
    runtime          load_model and Model: any model file behind one interface

Nothing is imported here, so that `runtime` (and the commands that check a
`--model` before TensorFlow starts) stay light: import the module you need,
e.g. `from adjustable_style.inference.stylizer import FastStylizer`.
"""
