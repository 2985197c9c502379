"""Colour preservation: the photo's colours under the stylized image's luminance.

Gatys et al. (2017, "Controlling perceptual factors in neural style
transfer", section 5) keep a photo's colours by transferring luminance
only. Here the stylized image's luminance is combined with the photo's
chroma in YCbCr (ITU-R BT.601, full range, as JPEG uses): Y from the
stylized image, Cb and Cr from the content.

YCbCr is a linear transform of RGB whose inverse maps a change of Y alone
to the same change in R, G and B, so the result is simply

    content + (Y(stylized) - Y(content)),   added to every channel,

then clipped to [0, 1]. Clipping only acts where a saturated colour cannot
take the new luminance (it then gives up some chroma); on photos the
chroma stays within a level or two of the content's (tests/test_color.py).

Written with `keras.ops`, so it runs on numpy arrays (`stylize.py`, the
demo) and inside an exported TensorFlow graph (the SavedModel) alike.
Keras is imported on first use, so that importing this module (as the
command line's option checks do) does not start TensorFlow.
"""

# ITU-R BT.601 luma weights of R, G and B (JPEG's YCbCr).
LUMA = (0.299, 0.587, 0.114)
# The rows of RGB -> YCbCr without the offsets of Cb and Cr (they cancel in
# every use here); the chroma rows sum to 0, so grey has no chroma.
YCBCR = (
    LUMA,
    (-0.168736, -0.331264, 0.5),
    (0.5, -0.418688, -0.081312),
)


def luminance(rgb):
    """Y of (..., 3) RGB in [0, 1], (..., 1)."""
    from keras import ops

    return ops.sum(ops.cast(rgb, "float32") * ops.convert_to_tensor(LUMA, "float32"), -1, True)


def ycbcr(rgb):
    """(..., 3) RGB -> (..., 3) Y, Cb, Cr (Cb and Cr centred on 0)."""
    from keras import ops

    matrix = ops.transpose(ops.convert_to_tensor(YCBCR, "float32"))
    return ops.matmul(ops.cast(rgb, "float32"), matrix)


def preserve_color(content, stylized):
    """The content's colours with the stylized image's luminance, in [0, 1].

    content and stylized are (..., H, W, 3) RGB in [0, 1] of the same shape.
    """
    from keras import ops

    content = ops.cast(content, "float32")
    shifted = content + (luminance(stylized) - luminance(content))
    return ops.clip(shifted, 0.0, 1.0)
