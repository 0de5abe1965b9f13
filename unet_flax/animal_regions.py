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

The animal classes miss animals that ImageNet's photos rarely show alone on grey: a dolphin
(0.16), a swan with its reflection (0.09), a kitten on a ball of yarn (0.23), against 0.20 for a
face close up. So the same pass also gives the region's pooled embedding to a person head: a
logistic regression, person against animal, on EfficientNet-Lite0's 1280 pooled features
(`PERSON_HEAD_FILE`, fitted by `fit_person_head` in experiments/fit_person_head.py on the regions
of the pseudo-labelled training photos' people and on Tux Paint's photos of animals cut out,
`unet_flax.datasets.animal_cutouts`; no photo that experiments/eval_real.py scores). A region's
person probability is the head's highest over the region and its upper parts (`upper_parts`: a
footballer kicking, arms and legs spread, scores 0.17-0.28 whole and 0.72-0.79 above the knees):

    animal, person = classifier.scores(image, region)
    classifier.is_animal(image, region)   # animal > MAX_ANIMAL or person < MIN_PERSON

`unet_flax.predict.drop_animal_regions` drops the regions that `is_animal` (those at least
`MIN_REGION_SIDE` pixels across). Measured on the held-out ensembles (experiments/README.md,
2026-12-05): people's regions score animal 0.20 at most (a face close up) and person 0.72 at
least (the footballer); the quokka animal 0.56-0.59 and person 0.03, the cheetah cub 0.82-0.89
and 0.01, the cat 0.95-0.97, the dolphin 0.16 and 0.14, the swan 0.09 and 0.02, the kitten 0.23
and 0.01.
"""
from __future__ import annotations

import dataclasses
import functools
import os
from typing import Iterator

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
# A region is an animal, whatever the classes say, where the person head gives it and each of its
# upper parts less than this: about midway in log-odds between the fit's lowest person (0.80)
# and highest animal (0.08) (experiments/fit_person_head.py).
MIN_PERSON = 0.35
PERSON_HEAD_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'person_head.npz')
# The person head's L2 penalty (lambda / 2 * |w|^2 beside the summed log-loss).
PERSON_HEAD_L2 = 10.0
# The upper parts of each training region, as shares of its height, are examples too: masks
# often hold a head and shoulders, or a half-length figure.
PERSON_HEAD_PARTS = (1.0, 0.65, 0.4)
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


def _embed(params: dict, crops: jax.Array) -> tuple[jax.Array, jax.Array]:
  """(animal share [N], pooled embedding [N, HEAD_FEATURES]) of crops [N, 224, 224, 3]."""
  logits, state = efficientnet.EfficientNetLite0().apply({'params': params}, crops,
                                                         mutable='intermediates')
  share = jax.nn.softmax(logits)[:, :ANIMAL_CLASSES].sum(axis=-1)
  return share, state['intermediates']['pooled'][0]


_embed_jit = jax.jit(_embed, compiler_options=compilation_cache.ONE_SHOT_COMPILER_OPTIONS)


@dataclasses.dataclass(frozen=True)
class PersonHead:
  """Logistic regression on the pooled embedding: p(person) = sigmoid(embedding . w + b)."""
  w: np.ndarray  # float32 [HEAD_FEATURES]
  b: float

  @classmethod
  def load(cls, path: str = PERSON_HEAD_FILE) -> 'PersonHead':
    try:
      with np.load(path) as f:
        w, b = np.asarray(f['w'], np.float32), float(f['b'])
    except (OSError, KeyError, ValueError) as e:
      raise ValueError(f'{path}: expected a person head (w [{efficientnet.HEAD_FEATURES}], b); '
                       f'run experiments/fit_person_head.py ({e})') from e
    if w.shape != (efficientnet.HEAD_FEATURES,):
      raise ValueError(f'{path}: w has shape {list(w.shape)}, expected '
                       f'[{efficientnet.HEAD_FEATURES}]; run experiments/fit_person_head.py')
    return cls(w, b)

  def save(self, path: str) -> None:
    np.savez(path, w=np.asarray(self.w, np.float32), b=np.float32(self.b))

  def probability(self, embedding: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(np.asarray(embedding, np.float64) @ self.w + self.b)))


@dataclasses.dataclass(frozen=True)
class AnimalClassifier:
  """EfficientNet-Lite0's ImageNet params and the person head: `scores`, `is_animal`."""
  params: dict
  person_head: PersonHead | None = None   # None: the animal classes alone decide
  max_animal: float = MAX_ANIMAL
  min_person: float = MIN_PERSON

  @classmethod
  def load(cls, person_head: bool = True) -> 'AnimalClassifier':
    """The classifier with the released weights (fetched once, `efficientnet.load_params`) and,
    with `person_head`, the package's person head (`PERSON_HEAD_FILE`)."""
    return cls(jax.tree.map(jnp.asarray, efficientnet.load_params()),
               PersonHead.load() if person_head else None)

  def embed(self, image: np.ndarray | jax.Array, region: np.ndarray) -> tuple[float, np.ndarray]:
    """(animal share, pooled embedding [HEAD_FEATURES]) of `region` (bool [H, W]) of `image`
    (float [H, W, 3] in [0, 1]), shown alone (`region_crop`)."""
    crop = region_crop(np.asarray(image, np.float32), np.asarray(region, bool))
    share, embedding = _embed_jit(self.params, jnp.asarray(crop)[None])
    return float(share[0]), np.asarray(embedding[0])

  def animal_probability(self, image: np.ndarray | jax.Array, region: np.ndarray) -> float:
    """The softmax probability on ImageNet's animal classes of the region shown alone."""
    return self.embed(image, region)[0]

  def scores(self, image: np.ndarray | jax.Array, region: np.ndarray) -> tuple[float, float]:
    """(animal-class probability of the region, person probability: the head's highest over the
    region and its `upper_parts`; 1.0 without a head), from one batch through the network."""
    if self.person_head is None:
      return self.animal_probability(image, region), 1.0
    image, region = np.asarray(image, np.float32), np.asarray(region, bool)
    parts = list(upper_parts(region))
    crops = [region_crop(image, part) for part in parts]
    crops += crops[-1:] * (len(PERSON_HEAD_PARTS) - len(crops))  # one batch shape, one compile
    share, embeddings = _embed_jit(self.params, jnp.asarray(np.stack(crops)))
    person = self.person_head.probability(np.asarray(embeddings[:len(parts)])).max()
    return float(share[0]), float(person)

  def is_animal(self, image: np.ndarray | jax.Array, region: np.ndarray) -> bool:
    """Whether the region's animal classes pass `max_animal` or its person probability is under
    `min_person`."""
    animal, person = self.scores(image, region)
    return animal > self.max_animal or person < self.min_person


@functools.lru_cache(maxsize=1)
def default_classifier() -> AnimalClassifier:
  """`AnimalClassifier.load()`, loaded once per process."""
  return AnimalClassifier.load()


def regions(mask: np.ndarray) -> list[np.ndarray]:
  """The 8-connected regions of `mask` (bool [H, W]) at least MIN_REGION_SIDE pixels across."""
  labels, _ = ndimage.label(mask, structure=np.ones((3, 3)))
  return [labels == r for r, box in enumerate(ndimage.find_objects(labels), start=1)
          if max(box[0].stop - box[0].start, box[1].stop - box[1].start) >= MIN_REGION_SIDE]


def upper_parts(region: np.ndarray) -> Iterator[np.ndarray]:
  """`region` whole, then cut below each smaller PERSON_HEAD_PARTS share of its height (the parts
  still at least MIN_REGION_SIDE pixels across)."""
  ys = np.nonzero(region.any(axis=1))[0]
  for share in PERSON_HEAD_PARTS:
    part = region.copy()
    part[ys[0] + int(round(share * (ys[-1] + 1 - ys[0]))):] = False
    if share == 1.0 or regions(part):
      yield part


def person_head_examples() -> Iterator[tuple[str, np.ndarray, np.ndarray, int]]:
  """(name, image float32 [H, W, 3] in [0, 1], region bool [H, W], 1 person / 0 animal): the
  regions of the pseudo-labelled training photos' people (`person_composite.PSEUDO_LABELLED_PHOTOS`,
  which no held-out config leaves out) and Tux Paint's animals, each on grey with a margin, all
  with their `upper_parts`."""
  from unet_flax.datasets import animal_cutouts  # pylint: disable=g-import-not-at-top
  from unet_flax.datasets import person_composite  # pylint: disable=g-import-not-at-top
  for photo in person_composite.PSEUDO_LABELLED_PHOTOS:
    image = person_composite.load_photo(photo).astype(np.float32) / 255
    for k, region in enumerate(regions(person_composite.load_pseudo_label(photo))):
      for part in upper_parts(region):
        yield f'{photo}#{k}', image, part, 1
  for name, (rgb, alpha) in animal_cutouts.load_animal_cutouts().items():
    h, w = alpha.shape
    pad = max(h, w) // 4   # a margin, as a region in a photo has, so the crop is not squashed
    image = np.full((h + 2 * pad, w + 2 * pad, 3), BACKGROUND, np.float32)
    region = np.zeros(image.shape[:2], bool)
    region[pad:pad + h, pad:pad + w] = alpha > 0.5
    image[region] = rgb[alpha > 0.5].astype(np.float32) / 255
    for part in upper_parts(region):
      yield name, image, part, 0


def fit_person_head(embeddings: np.ndarray, labels: np.ndarray,
                    l2: float = PERSON_HEAD_L2, iterations: int = 50) -> PersonHead:
  """L2-penalised logistic regression (the bias unpenalised) of `labels` [N] in {0, 1} on
  `embeddings` [N, D], by Newton's method to convergence: deterministic, in float64."""
  x = np.concatenate([np.asarray(embeddings, np.float64), np.ones((len(labels), 1))], axis=1)
  y = np.asarray(labels, np.float64)
  penalty = np.full(x.shape[1], float(l2))
  penalty[-1] = 0.0
  theta = np.zeros(x.shape[1])
  for _ in range(iterations):
    p = 1.0 / (1.0 + np.exp(-(x @ theta)))
    grad = x.T @ (p - y) + penalty * theta
    hess = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty)
    step = np.linalg.solve(hess, grad)
    theta -= step
    if np.abs(step).max() < 1e-10:
      break
  return PersonHead(theta[:-1].astype(np.float32), float(theta[-1]))
