"""Is a region of a person mask an animal? An ImageNet classifier's answer.

The MediaPipe network (`unet_flax.mediapipe_selfie`), trained to find people, calls furry
animals that face the camera person: the released network most of a cat, the fine-tuned
ensembles a third of a cheetah cub's face and of a quokka sitting up. Training on photos of
animals teaches it otherwise only at the cost of real people (experiments/README.md). An ImageNet
classifier tells animals apart from people without that cost, since it learned them from a
million photos:

    classifier = animal_regions.AnimalClassifier.load()
    share = classifier.animal_probability(image, region)   # image [H, W, 3] in [0, 1], region bool

shows EfficientNet-Lite0 (`unet_flax.efficientnet`, with its 1000-class head) the region alone,
the rest of the photo grey, in a square crop around it squashed to 224 x 224 px, and returns the
probability that its softmax puts on ImageNet's animal classes (the first `ANIMAL_CLASSES`:
fish, birds, amphibians, reptiles, invertebrates and mammals). The crop is masked because a
person's box can hold an animal beside them (a man and his dog: the dog's class wins the
unmasked box).

`unet_flax.predict.drop_animal_regions` drops the regions above `MAX_ANIMAL` (those at least
`MIN_REGION_SIDE` pixels across). Measured on the held-out ensembles (experiments/README.md,
2026-12-05): people's regions 0.20 at most (a face close up), the quokka 0.56-0.59, the cheetah
cub 0.82-0.89, the cat 0.95-0.97.
"""
from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image
from scipy import ndimage

from nst_flax import compilation_cache
from unet_flax import efficientnet

# ImageNet-1k classes 0-397 (tench ... puffer) are animals; 398 onwards are objects, food, plants
# and scenes. People have no class of their own: a person's region goes to their clothes.
ANIMAL_CLASSES = 398
MAX_ANIMAL = 0.3
# A region whose box is smaller on both sides is not classified: labelme's person of 14 x 4 px
# scores 0.62, its people of 33 x 49 px and more 0.07-0.16.
MIN_REGION_SIDE = 24
CROP_SIDE = 224
CROP_MARGIN = 1.2    # the square crop's side, a multiple of the region's longer box side
REGION_MARGIN = 0.02  # pixels of the photo kept around the region, a share of its longer side
BACKGROUND = 0.5      # the grey that replaces the rest of the photo


def region_crop(image: np.ndarray, region: np.ndarray) -> np.ndarray:
  """float32 [CROP_SIDE, CROP_SIDE, 3] in [0, 1]: `image` [H, W, 3] in [0, 1] grey outside
  `region` bool [H, W] (dilated by REGION_MARGIN), in a square CROP_MARGIN times the region's
  box (clipped to the photo, so squashed at its edges), resized bicubically."""
  h, w = region.shape
  ys, xs = np.nonzero(region)
  if not len(ys):
    raise ValueError('region_crop: the region is empty')
  side = CROP_MARGIN * max(ys.max() + 1 - ys.min(), xs.max() + 1 - xs.min())
  cy, cx = (ys.min() + ys.max() + 1) / 2, (xs.min() + xs.max() + 1) / 2
  y0, y1 = int(max(0, cy - side / 2)), int(min(h, cy + side / 2))
  x0, x1 = int(max(0, cx - side / 2)), int(min(w, cx + side / 2))
  near = ndimage.binary_dilation(region[y0:y1, x0:x1],
                                 iterations=max(1, int(REGION_MARGIN * max(h, w))))
  shown = np.where(near[..., None], np.asarray(image, np.float32)[y0:y1, x0:x1],
                   np.float32(BACKGROUND))
  pixels = Image.fromarray(np.round(np.clip(shown, 0, 1) * 255).astype(np.uint8))
  return np.asarray(pixels.resize((CROP_SIDE, CROP_SIDE), Image.BICUBIC), np.float32) / 255


@functools.partial(jax.jit, compiler_options=compilation_cache.ONE_SHOT_COMPILER_OPTIONS)
def _animal_share(params: dict, crops: jax.Array) -> jax.Array:
  probs = jax.nn.softmax(efficientnet.EfficientNetLite0().apply({'params': params}, crops))
  return probs[:, :ANIMAL_CLASSES].sum(axis=-1)


@dataclasses.dataclass(frozen=True)
class AnimalClassifier:
  """EfficientNet-Lite0's ImageNet params: `animal_probability(image, region)`."""
  params: dict

  @classmethod
  def load(cls) -> 'AnimalClassifier':
    """The classifier with the released weights (fetched once, `efficientnet.load_params`)."""
    return cls(jax.tree.map(jnp.asarray, efficientnet.load_params()))

  def animal_probability(self, image: np.ndarray | jax.Array, region: np.ndarray) -> float:
    """The softmax probability on ImageNet's animal classes of `region` (bool [H, W]) of
    `image` (float [H, W, 3] in [0, 1]), shown alone (`region_crop`)."""
    crop = region_crop(np.asarray(image, np.float32), np.asarray(region, bool))
    return float(_animal_share(self.params, jnp.asarray(crop)[None])[0])


@functools.lru_cache(maxsize=1)
def default_classifier() -> AnimalClassifier:
  """`AnimalClassifier.load()`, loaded once per process."""
  return AnimalClassifier.load()
