"""`FastStylizer`: a trained stylizer compiled for inference, with its cache.

Around `graph.StylizerGraph` it adds what in-process use needs and an
export does not: Lambda once per alpha (gamma and beta are (B, C)
vectors, never per-pixel, and they are cached per alpha row: Lambda is a
memory-bound read of its 21 MB of weights, about 2 ms, which moving a
slider or stylizing many images at one alpha pays only once), the
dispatch of very large images to `streaming`, and the alpha-map modes.
"""

import collections

import numpy as np
import tensorflow as tf

from adjustable_style import alpha_maps
from adjustable_style.inference import streaming
from adjustable_style.inference.graph import StylizerGraph
from adjustable_style.inference.map_statistics import MAP_CELL, MAP_EXACT_MAX_ALPHAS

# Images with more pixels than this go through `stylize_streaming` (its
# peak memory is about 300 bytes per pixel against the whole-image graph's
# 1 KB per pixel; below this size the whole-image graph is faster).
STREAMING_PIXELS = 2048 * 2048
# Distinct alpha rows whose gammas and betas are kept.
PARAMETER_CACHE_SIZE = 256


class FastStylizer:
    """A trained stylizer (adjustable or base) compiled for inference.

    `FastStylizer(keras_stylizer)(content, alpha)` returns what
    `keras_stylizer([content, alpha])` does (base: `(content)`), within
    float32 rounding. content is (B, H, W, 3) float32 in [0, 1], any size.
    Around `StylizerGraph` it adds the per-alpha cache of Lambda's output
    and the streaming path for very large images. `precision="bfloat16"`
    computes the whole-image path's convolutions in bfloat16 (the
    streaming path stays float32). `convolutions` is `StylizerGraph`'s
    (default: what pays on this CPU).
    """

    def __init__(self, stylizer, precision="float32", convolutions=None):
        self.precision = precision
        self.graph = graph = StylizerGraph(stylizer, precision, convolutions=convolutions)
        self.convolutions = graph.convolutions
        self.adjustable = graph.adjustable
        self.style_layers = graph.style_layers
        # The streaming path and the temporal smoother compute in float32
        # whatever the precision.
        self.float32_graph = (
            graph
            if graph.compute_dtype == tf.float32
            else StylizerGraph(stylizer, convolutions="direct")
        )
        if self.adjustable:
            self._alpha_network = tf.function(
                graph.parameters,
                input_signature=[tf.TensorSpec([None, len(self.style_layers)], tf.float32)],
            )
            self._cache = collections.OrderedDict()
        else:
            self._base_params = graph.base_parameters.numpy()
        content = tf.TensorSpec([None, None, None, 3], tf.float32)
        # Every size below is the loaded model's own (`graph.architecture`).
        channels = graph.architecture.normalized_channels
        params = tf.TensorSpec([None, 2 * sum(channels)], tf.float32)
        self._whole = tf.function(graph.forward, input_signature=[content, params])
        if self.adjustable:
            alpha_map = tf.TensorSpec([None, None, None, len(self.style_layers)], tf.float32)
            self._with_map = tf.function(graph.stylize_map, input_signature=[content, alpha_map])
            self._map_regions = tf.function(
                lambda content, alpha_map: graph.map_regions(
                    alpha_map, *tf.unstack(tf.shape(content)[:3])
                ),
                input_signature=[content, alpha_map],
            )
            self._statistics = tf.function(graph.statistics, input_signature=[content, params])
            stats = tuple((tf.TensorSpec([None, c], tf.float32),) * 2 for c in channels)
            regions = (
                tf.TensorSpec([None, None, None], tf.int32),
                tf.TensorSpec([], tf.int32),
                tf.TensorSpec([None, None, None, None], tf.float32),
            )
            self._with_statistics = tf.function(
                lambda content, params, regions, stats: graph.forward(
                    content, params, regions, statistics=stats
                ),
                input_signature=[content, params, regions, stats],
            )

    # -- Normalization parameters -------------------------------------------

    def norm_parameters(self, alpha):
        """(B, 2 * channels) gammas then betas for alpha (B, L); cached per row."""
        if not self.adjustable:
            return self._base_params
        alpha = np.asarray(alpha, np.float32)
        keys = [row.tobytes() for row in alpha]
        # One row per distinct alpha: a batch of video frames at one alpha
        # runs Lambda once.
        missing = list({key: i for i, key in enumerate(keys) if key not in self._cache}.values())
        if missing:
            fresh = self._alpha_network(alpha[missing]).numpy()
            for i, row in zip(missing, fresh):
                self._cache[keys[i]] = row
                while len(self._cache) > PARAMETER_CACHE_SIZE:
                    self._cache.popitem(last=False)
        for key in keys:
            self._cache.move_to_end(key)
        return np.stack([self._cache[key] for key in keys])

    # -- Public interface ----------------------------------------------------

    def alpha_array(self, alpha, batch):
        """alpha as (batch, L) float32, checked (a dummy for a base model)."""
        if not self.adjustable:
            return np.zeros((1, 1), np.float32)
        alpha = np.asarray(alpha, np.float32).reshape(-1, len(self.style_layers))
        if len(alpha) != batch:
            raise ValueError(f"{batch} images but {len(alpha)} alphas")
        return alpha

    def __call__(self, content, alpha=None):
        """Stylized (B, H, W, 3) float32 for content (B, H, W, 3) in [0, 1].

        Large images (over `STREAMING_PIXELS`) take the streaming path one
        at a time; the result is the same.
        """
        content = np.asarray(content, np.float32)
        alpha = self.alpha_array(alpha, len(content))
        if content.shape[1] * content.shape[2] <= STREAMING_PIXELS:
            return self._whole(content, self.norm_parameters(alpha)).numpy()
        return np.stack(
            [self.stylize_streaming(image, a[None]) for image, a in zip(content, alpha)]
        )

    def stylize_map(self, content, alpha_map, exact=False):
        """Stylized (B, H, W, 3) with one alpha per pixel.

        `alpha_map` is (B or 1, H', W', L) float32 in [0, 1], any size: it is
        resized to the content (see `StylizerGraph.map_regions`). A
        constant map gives the uniform-alpha result.

        `exact=True` gives each region of the map the instance-norm
        statistics that the whole image has at the region's alpha, from one
        uniform pass per distinct alpha of the map's cells (at most
        `MAP_EXACT_MAX_ALPHAS`; more raise `alpha_maps.AlphaMapError`): inside a region the
        output is then the uniform-alpha output. The default gathers
        statistics from the map's own regions in the one pass.
        """
        if not self.adjustable:
            raise ValueError("a base model has no alpha, so no alpha map")
        content = np.asarray(content, np.float32)
        alpha_map = np.asarray(alpha_map, np.float32)
        if alpha_map.ndim != 4 or alpha_map.shape[-1] != len(self.style_layers):
            raise ValueError(
                f"an alpha map is (B, H, W, {len(self.style_layers)}), got {alpha_map.shape}"
            )
        if len(alpha_map) not in (1, len(content)):
            raise ValueError(f"{len(content)} images but {len(alpha_map)} alpha maps")
        if content.shape[1] * content.shape[2] > STREAMING_PIXELS:
            raise ValueError(
                f"alpha maps work on images of up to {STREAMING_PIXELS} pixels "
                f"(2048 x 2048); this one is {content.shape[2]} x {content.shape[1]}"
            )
        if not exact:
            return self._with_map(content, alpha_map).numpy()
        maps = np.broadcast_to(alpha_map, (len(content),) + alpha_map.shape[1:])
        return np.concatenate(
            [self._exact_map(image[None], m[None]) for image, m in zip(content, maps)]
        )

    def _exact_map(self, content, alpha_map):
        params, regions = self._map_regions(content, alpha_map)
        count = int(regions[1])
        if count > MAP_EXACT_MAX_ALPHAS:
            raise alpha_maps.AlphaMapError(
                f"exact alpha-map statistics take one pass per distinct alpha; this map "
                f"has {count} over its {MAP_CELL} px cells (soft edges or gradients), "
                f"and at most {MAP_EXACT_MAX_ALPHAS} are allowed: use a map of a few flat "
                "regions, or the default statistics"
            )
        # One pass per region, not a batch of all: memory stays one image's.
        per_region = [self._statistics(content, params[k : k + 1]) for k in range(count)]
        stats = tuple(
            tuple(tf.concat([region[layer][part] for region in per_region], 0) for part in (0, 1))
            for layer in range(len(self.graph.architecture.normalized_channels))
        )
        return self._with_statistics(content, params, regions, stats).numpy()

    # -- Streaming, one layer at a time over strips ---------------------------

    def stylize_streaming(self, image, alpha=None, rows=streaming.STREAMING_ROWS):
        """One image (H, W, 3) -> (H, W, 3), computed layer by layer in strips.

        Every feature map lives in host memory (see `streaming`); equal to
        `__call__` up to float32 rounding, for any `rows`.
        """
        params = self.norm_parameters(self.alpha_array(alpha, 1))
        return streaming.stylize_streaming(self.float32_graph, params, image, rows)
