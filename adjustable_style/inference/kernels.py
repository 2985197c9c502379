"""Convolutions rearranged for speed, and the padding they need, as TensorFlow ops.

Each function computes what a layer of `model.layers` / `model.networks`
computes, with cheaper operations:

- **Nearest x2 upsampling + 3x3 convolution as one 2x2 sub-pixel
  convolution** (`subpixel_kernel`, `upsample_conv`). Pairing the
  upsampled rows (and columns) as (2 i - 1, 2 i), both members of a pair
  see the same two low-resolution rows, so one 2x2 convolution at low
  resolution with 4x the output channels, followed by `depth_to_space`
  and a one-pixel crop, gives the same numbers with 16 instead of 36
  multiply-adds per low-resolution pixel (the 3x3 kernel's taps that land
  on one low-resolution pixel are added up beforehand), without ever
  building the 4x larger upsampled tensor or padding it. Reflection
  padding of the upsampled image by one pixel equals symmetric padding of
  the low-resolution one by one pixel.
- **The 9x9 output convolution (32 -> 3) by rows** (`row_split_kernel`,
  `sum_row_shifts`). Three output channels leave most of a SIMD register
  idle; as a 1x9 convolution to 9 * 3 channels followed by nine shifted
  adds it does the same multiply-adds at matrix-multiply speed.
- **Convolutions as matrix products** (`matmul_kernel`, `matmul_conv`),
  which pay on x86 CPUs without AVX-512 (`hardware.convolution_kernels`).
- **Padding as gathers** (`reflect_pad`, `edge_pad`, `pad_to_multiple`):
  cheaper here than MirrorPad or concatenated slices, and plain ONNX.
"""

import numpy as np
import tensorflow as tf

from adjustable_style.model import layers, networks


def reflect_pad(x, pad):
    """Reflection padding of height and width (as `ReflectionPadding2D`).

    One gather per axis: cheaper here than the MirrorPad kernel or
    concatenated mirrored slices, and plain ONNX.
    """
    if pad == 0:
        return x
    for axis in (1, 2):
        size = tf.shape(x)[axis]
        index = tf.abs(tf.range(-pad, size + pad))
        x = tf.gather(x, tf.minimum(index, 2 * (size - 1) - index), axis=axis)
    return x


def edge_pad(x):
    """Symmetric padding by one pixel (the edge pixel repeated) of height and width.

    A gather per axis, as `reflect_pad`: ONNX has no symmetric padding
    mode.
    """
    for axis in (1, 2):
        size = tf.shape(x)[axis]
        x = tf.gather(x, tf.clip_by_value(tf.range(-1, size + 1), 0, size - 1), axis=axis)
    return x


def pad_to_multiple(x):
    """`layers.PadToMultiple` (symmetric, bottom and right), as one gather per axis.

    Symmetric extension is periodic with period 2 n (n, n-1, ..., 1, then
    1, ..., n again), so the padded rows are the row indices taken modulo
    2 n and folded back. The same numbers as the layer's rounds of
    concatenation, in a form tf2onnx converts correctly with dynamic shapes
    (it turns integer floor division of negative numbers, the layer's
    rounding up, into truncation: only non-negative operands here).
    """
    multiple, min_size = networks.SIZE_MULTIPLE, layers.PadToMultiple().min_size
    for axis in (1, 2):
        size = tf.shape(x)[axis]
        target = tf.maximum((size + multiple - 1) // multiple * multiple, min_size)
        index = tf.math.floormod(tf.range(target), 2 * size)
        x = tf.gather(x, tf.where(index < size, index, 2 * size - 1 - index), axis=axis)
    return x


def subpixel_kernel(kernel):
    """(3, 3, Cin, Cout) kernel of "nearest x2, then conv" -> (2, 2, Cin, 4 Cout).

    Pair the upsampled rows as (2 i - 1, 2 i): both rows of a pair see only
    low-resolution rows i - 1 and i (row 2 i - 1 with taps k0 + k1 and k2,
    row 2 i with k0 and k1 + k2), and the same holds for columns. So a 2x2
    convolution of the edge-padded low-resolution map, with the four
    phases as 4 Cout output channels, followed by `depth_to_space` and a
    crop of one pixel on every side (`upsample_conv`), is the whole
    upsampling convolution with 16 instead of 36 multiply-adds per low-
    resolution pixel and channel pair. Channel (2 r + c) * Cout + k is the
    pair's row r and column c.
    """
    kernel = np.asarray(kernel, np.float64)
    # taps[r][a, u]: how 3x3 tap u lands on low-res offset a of phase r.
    taps = np.array([[[1, 1, 0], [0, 0, 1]], [[1, 0, 0], [0, 1, 1]]], np.float64)
    phases = [
        np.einsum("au,bv,uvio->abio", taps[r], taps[c], kernel) for r in (0, 1) for c in (0, 1)
    ]
    return np.concatenate(phases, axis=-1).astype(np.float32)


def upsample_conv(padded, kernel, matrix=None):
    """Nearest x2 upsampling and a 3x3 convolution, from the edge-padded map.

    `padded` is the low-resolution map with one edge pixel repeated on
    every side ((H + 2, W + 2)), `kernel` a `subpixel_kernel`; the result
    is (2 H, 2 W), what reflection padding and convolving the upsampled
    map gives. With `matrix` (`matmul_kernel(kernel)`), by `matmul_conv`.
    """
    if matrix is None:
        z = tf.nn.conv2d(padded, kernel, 1, "VALID")
    else:
        z = matmul_conv(padded, matrix, 2, 2)
    z = tf.nn.depth_to_space(z, 2)
    return z[:, 1:-1, 1:-1]


def row_split_kernel(kernel):
    """(KH, KW, Cin, Cout) -> (1, KW, Cin, KH * Cout): one 1xKW kernel per row."""
    kh, kw, cin, cout = kernel.shape
    return np.ascontiguousarray(np.transpose(kernel, (1, 2, 0, 3)).reshape(1, kw, cin, kh * cout))


def matmul_kernel(kernel):
    """(KH, KW, Cin, Cout) -> the (KW * Cin, KH * Cout) matrix of `matmul_conv`."""
    kh, kw, cin, cout = kernel.shape
    return row_split_kernel(kernel).reshape(kw * cin, kh * cout)


def matmul_conv(padded, matrix, kernel_rows, kernel_cols):
    """A stride-1 VALID convolution as one matrix product, row-split.

    The KW column-shifted copies of the input side by side make each row's
    1xKW convolution one product with `matrix` (a `matmul_kernel`), to all
    KH rows' output channels at once; the KH row-shifted slices then add
    up. Where oneDNN has no direct NHWC convolution for the CPU (AVX2
    without AVX-512, see `hardware.convolution_kernels`) it falls back to
    an im2col GEMM, and this runs at nearly twice its speed.
    """
    shape = tf.shape(padded)
    width = shape[2] - kernel_cols + 1
    cols = tf.concat([padded[:, :, j : j + width] for j in range(kernel_cols)], axis=-1)
    z = tf.matmul(tf.reshape(cols, [-1, matrix.shape[0]]), matrix)
    z = tf.reshape(z, [shape[0], shape[1], width, matrix.shape[1]])
    cout = matrix.shape[1] // kernel_rows
    return sum_row_shifts(z, kernel_rows, cout, shape[1] - kernel_rows + 1)


def sum_row_shifts(z, kernel_rows, cout, height):
    """Adds the K row-shifted slices of a row-split convolution's output."""
    out = z[:, 0:height, :, 0:cout]
    for ky in range(1, kernel_rows):
        out = out + z[:, ky : ky + height, :, ky * cout : (ky + 1) * cout]
    return out
