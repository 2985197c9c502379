"""The compiled forward passes the experiments measure with (TensorFlow).

- `Evaluator`: the stylizer at given alphas and the loss network the model
  was trained with: style losses against the style image's Grams, content
  losses, the photo's own losses (adjustability.py, and the base of the
  others);
- `SampleEvaluator`: the stylizer with explicit gammas and betas, so noise
  can go between Lambda and T (diversity.py, noise_strength.py);
- `PairEvaluator`: base models beside the adjustable one, Grams and SSIM
  (figure6.py).

Apart from `measures.py` so that the numbers stay numpy-only and testable
without a model.
"""

import numpy as np


class Evaluator:
    """Compiled forward passes: stylize, and losses of stylized batches."""

    def __init__(self, stylizer, loss_net, content_layer, style_layers, style_image, batch_size):
        import tensorflow as tf

        from adjustable_style.model import losses

        self.batch_size = batch_size
        self.style_layers = list(style_layers)
        self.content_layer = content_layer
        style_features = loss_net(tf.constant(style_image[None]), training=False)
        grams = {name: losses.gram_matrix(style_features[name]) for name in self.style_layers}

        def features(image):
            return loss_net(image, training=False)

        def style_losses(feats):
            return tf.stack(
                [losses.style_loss(feats[name], grams[name]) for name in self.style_layers], axis=1
            )

        image_spec = tf.TensorSpec([None, None, None, 3], tf.float32)
        alpha_spec = tf.TensorSpec([None, len(self.style_layers)], tf.float32)

        @tf.function(input_signature=[image_spec])
        def measure_photo(content):
            feats = features(content)
            return style_losses(feats), feats[content_layer]

        @tf.function(input_signature=[image_spec, alpha_spec, tf.TensorSpec(None, tf.float32)])
        def measure_stylized(content, alphas, content_features):
            batch = tf.repeat(content, tf.shape(alphas)[0], axis=0)
            stylized = stylizer([batch, alphas], training=False)
            feats = features(stylized)
            content_loss = losses.content_loss(feats[content_layer], content_features)
            mse = tf.reduce_mean(tf.square(stylized - batch), axis=[1, 2, 3])
            return style_losses(feats), content_loss, mse

        @tf.function(input_signature=[image_spec, alpha_spec])
        def stylize(content, alphas):
            batch = tf.repeat(content, tf.shape(alphas)[0], axis=0)
            return stylizer([batch, alphas], training=False)

        # Plain callables for the other evaluators' compiled functions: the
        # same features and Grams.
        self.features = features
        self.style_losses = style_losses
        self._measure_photo = measure_photo
        self._measure_stylized = measure_stylized
        self._stylize = stylize

    @classmethod
    def of(cls, loaded, batch_size):
        """The Evaluator of `harness.load_models`' namespace `loaded`."""
        return cls(
            loaded.stylizer,
            loaded.loss_net,
            loaded.spec.content_layer,
            loaded.style_layers,
            loaded.style,
            batch_size,
        )

    def photo(self, content):
        """(style losses (L,), content features) of the unstylized photo."""
        style, feats = self._measure_photo(content[None])
        return style.numpy()[0], feats

    def stylized(self, content, alphas, content_features):
        """Style losses (N, L), content losses (N,), MSE to the photo (N,)."""
        parts = [[], [], []]
        for start in range(0, len(alphas), self.batch_size):
            chunk = alphas[start : start + self.batch_size]
            for part, value in zip(
                parts, self._measure_stylized(content[None], chunk, content_features)
            ):
                part.append(value.numpy())
        return tuple(np.concatenate(part, axis=0).astype(np.float64) for part in parts)

    def stylize(self, content, alphas):
        out = [
            self._stylize(content[None], alphas[s : s + self.batch_size]).numpy()
            for s in range(0, len(alphas), self.batch_size)
        ]
        return np.concatenate(out, axis=0)


class SampleEvaluator:
    """Compiled forward passes with explicit gammas and betas.

    The stylizer runs as `inference.StylizerGraph`: Lambda(alpha) gives the
    (B, 2 x 2115) gammas and betas, and `forward` takes them as they are, so
    (d) can add noise between the two. The losses and features are
    `evaluator`'s (an `Evaluator`: its loss network and style Grams).
    """

    def __init__(self, stylizer, evaluator, feature_layer, batch_size):
        import tensorflow as tf

        from adjustable_style.inference import graph as inference
        from adjustable_style.model import losses

        graph = inference.StylizerGraph(stylizer)
        content_layer = evaluator.content_layer
        self.batch_size = batch_size
        self.evaluator = evaluator
        image_spec = tf.TensorSpec([None, None, None, 3], tf.float32)
        params_spec = tf.TensorSpec([None, None], tf.float32)

        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32)])
        def parameters(alphas):
            return graph.parameters(alphas)

        @tf.function(input_signature=[image_spec, params_spec])
        def stylize(contents, params):
            return graph.forward(contents, params)

        @tf.function(input_signature=[image_spec, params_spec, tf.TensorSpec(None, tf.float32)])
        def measure(contents, params, content_features):
            stylized = graph.forward(contents, params)
            feats = evaluator.features(stylized)
            content_loss = losses.content_loss(feats[content_layer], content_features)
            return stylized, evaluator.style_losses(feats), content_loss, feats[feature_layer]

        self._parameters, self._stylize, self._measure = parameters, stylize, measure

    def parameters(self, alphas):
        """(N, 4230) gammas then betas for alphas (N, L)."""
        return self._parameters(np.asarray(alphas, np.float32)).numpy()

    def stylize(self, contents, params):
        """Stylized (N, H, W, 3) of contents (N, H, W, 3) with params (N, 4230)."""
        return np.concatenate(
            [
                self._stylize(contents[s : s + self.batch_size], params[s : s + self.batch_size])
                for s in range(0, len(contents), self.batch_size)
            ]
        )

    def measure(self, contents, params, content_features):
        """(stylized, style losses (N, L), content losses (N,), features) per row."""
        parts = [[], [], [], []]
        for s in range(0, len(contents), self.batch_size):
            values = self._measure(
                contents[s : s + self.batch_size], params[s : s + self.batch_size], content_features
            )
            for part, value in zip(parts, values):
                part.append(value.numpy())
        return tuple(np.concatenate(part) for part in parts)


class PairEvaluator:
    """Compiled forward passes: the bases, the adjustable model at alpha = w, Grams.

    The adjustable outputs and the photo's style losses come from
    `evaluator`, an `Evaluator` (the real loss network and the style
    image's Grams); the Grams of any image from its `features`.
    """

    def __init__(self, evaluator, bases):
        import tensorflow as tf

        from adjustable_style.model import losses

        self.evaluator = evaluator
        image_spec = tf.TensorSpec([None, None, None, 3], tf.float32)

        def compiled(stylizer):
            return tf.function(
                lambda images: stylizer(images, training=False), input_signature=[image_spec]
            )

        self._bases = [compiled(stylizer) for stylizer in bases]

        @tf.function(input_signature=[image_spec])
        def grams(batch):
            feats = evaluator.features(batch)
            return [losses.gram_matrix(feats[name]) for name in evaluator.style_layers]

        @tf.function(input_signature=[image_spec, image_spec])
        def ssim(x, y):
            return tf.image.ssim(x, y, max_val=1.0)

        @tf.function(input_signature=[image_spec, tf.TensorSpec(None, tf.float32)])
        def raw_losses(batch, content_features):
            feats = evaluator.features(batch)
            content = losses.content_loss(feats[evaluator.content_layer], content_features)
            return tf.concat([content[:, None], evaluator.style_losses(feats)], axis=1)

        self._grams, self._ssim, self._raw_losses = grams, ssim, raw_losses

    def raw_losses(self, batch, content_features):
        """(N, 1 + L): the content loss against the photo, then each style loss."""
        size = self.evaluator.batch_size
        return np.concatenate(
            [
                self._raw_losses(batch[s : s + size], content_features).numpy()
                for s in range(0, len(batch), size)
            ]
        ).astype(np.float64)

    def outputs(self, content, weights):
        """(2n, H, W, 3): base(w_i)(c) for each i, then adjustable(c; alpha = w_i)."""
        based = [f(content[None]).numpy()[0] for f in self._bases]
        adjusted = self.evaluator.stylize(content, np.asarray(weights, np.float32))
        return np.concatenate([np.stack(based), adjusted]).astype(np.float32)

    def grams(self, batch):
        """One (N, C, C) array per style layer."""
        size = self.evaluator.batch_size
        parts = [
            [g.numpy() for g in self._grams(batch[s : s + size])]
            for s in range(0, len(batch), size)
        ]
        return [np.concatenate(layer) for layer in zip(*parts)]

    def ssim(self, x, y):
        return float(self._ssim(x[None], y[None]).numpy()[0])
