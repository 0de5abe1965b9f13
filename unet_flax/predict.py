"""Person masks for images of any size, from a trained U-Net.

The U-Net pools `depth - 1` times, so its input sides must be multiples of 2**(depth - 1):
`predict_mask` pads the image (edge-replicating, so no artificial border appears) to the next
multiple, runs the model, and crops the probabilities back to the image's own resolution.
`Segmenter.from_workdir` rebuilds the model from the best checkpoint of a training workdir.
"""
from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from unet_flax import checkpoints
from unet_flax import models


def pad_to_multiple(images: jax.Array, multiple: int) -> tuple[jax.Array, tuple[int, int]]:
  """Edge-pads [B,H,W,C] images at the bottom/right to multiples of `multiple`."""
  h, w = images.shape[1:3]
  ph, pw = -h % multiple, -w % multiple
  return jnp.pad(images, ((0, 0), (0, ph), (0, pw), (0, 0)), mode='edge'), (h, w)


@functools.partial(jax.jit, static_argnums=(0,))
def predict_mask(model: models.UNet, variables: dict, images: jax.Array) -> jax.Array:
  """Person probability [B,H,W,1] in [0,1] for float images [B,H,W,3] in [0,1], any H, W."""
  padded, (h, w) = pad_to_multiple(images, 2**(model.depth - 1))
  logits = model.apply(variables, padded, train=False)
  return jax.nn.sigmoid(logits[:, :h, :w, :1])


@dataclasses.dataclass(frozen=True)
class Segmenter:
  """A trained U-Net and its variables: `segmenter(image)` -> person probability [H,W,1]."""
  model: models.UNet
  variables: dict
  train_image_size: int

  @classmethod
  def from_workdir(cls, workdir: str) -> 'Segmenter':
    """Loads the best checkpoint (by validation IoU) of a `train.py` workdir."""
    variables, metadata = checkpoints.load_best(workdir)
    model = models.create_model(metadata['model'])
    expected = jax.eval_shape(lambda: model.init(
        jax.random.key(0), jnp.zeros((1, 2**(model.depth - 1), 2**(model.depth - 1), 3)),
        train=False))
    got = jax.tree.map(lambda x: tuple(x.shape), variables)
    want = jax.tree.map(lambda x: tuple(x.shape), dict(expected))
    if got != want:
      raise ValueError(f'{workdir}: checkpoint variables do not match the model config it was '
                       f'saved with ({metadata["model"]}); the checkpoint is incompatible')
    return cls(model, variables, int(metadata.get('image_size', 0)))

  def __call__(self, image: np.ndarray | jax.Array) -> jax.Array:
    image = jnp.asarray(image, jnp.float32)
    batched = image.ndim == 4
    probs = predict_mask(self.model, self.variables, image if batched else image[None])
    return probs if batched else probs[0]

  def photo_probability(self, image: np.ndarray | jax.Array, side: int = 0) -> jax.Array:
    """Person probability [H, W, 1] of a photo [H, W, 3] in [0, 1], at the photo's resolution.

    The U-Net sees the photo (antialiased) with its long side at `side` pixels (0: the training
    image size; never upscaled): the scale it was trained at, whatever the photo's resolution.
    """
    h, w = image.shape[:2]
    side = side or max(self.train_image_size, 32)
    scale = min(1.0, side / max(h, w))
    small = (max(1, round(h * scale)), max(1, round(w * scale)))
    x = jax.image.resize(jnp.asarray(image, jnp.float32), small + (3,), 'linear', antialias=True)
    return jnp.clip(jax.image.resize(self(x), (h, w, 1), 'linear'), 0.0, 1.0)
