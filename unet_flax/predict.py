"""Person masks for images of any size, from a trained U-Net.

The U-Net pools `depth - 1` times, so its input sides must be multiples of 2**(depth - 1):
`predict_mask` pads the image (edge-replicating, so no artificial border appears) to the next
multiple, runs the model, and crops the probabilities back to the image's own resolution.
`Segmenter.from_workdir` rebuilds the model from the best checkpoint of a training workdir;
`Segmenter.photo_masks` gives the masks of whole photos to `nst_flax.pipeline` (stylize.py).

One-shot use. `Segmenter(..., autotune=False)` (what stylize.py uses) compiles without GPU
autotuning (`nst_flax.compilation_cache.ONE_SHOT_COMPILER_OPTIONS`): it pays for a program
that runs thousands of times, not for one mask per photo.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from scipy import ndimage

from nst_flax import compilation_cache
from unet_flax import animal_regions
from unet_flax import checkpoints
from unet_flax import models


def pad_to_multiple(images: jax.Array, multiple: int) -> tuple[jax.Array, tuple[int, int]]:
  """Edge-pads [B,H,W,C] images at the bottom/right to multiples of `multiple`."""
  h, w = images.shape[1:3]
  ph, pw = -h % multiple, -w % multiple
  return jnp.pad(images, ((0, 0), (0, ph), (0, pw), (0, 0)), mode='edge'), (h, w)


def ensemble_probability(model: models.UNet, variables: dict, images: jax.Array,
                         ensemble: bool = False) -> jax.Array:
  """sigmoid(model(images)) [B,H,W,1]; with `ensemble`, `variables` are stacked along a leading
  axis, one row per member (`unet_flax.train.train_ensemble`), and their probabilities are
  averaged."""
  probability = lambda v: jax.nn.sigmoid(model.apply(v, images, train=False))
  if ensemble:
    return jnp.mean(jax.vmap(probability)(variables), axis=0)
  return probability(variables)


def _predict_mask(model: models.UNet, variables: dict, images: jax.Array,
                  ensemble: bool = False) -> jax.Array:
  """Person probability [B,H,W,1] in [0,1] for float images [B,H,W,3] in [0,1], any H, W."""
  padded, (h, w) = pad_to_multiple(images, 2**(model.depth - 1))
  return ensemble_probability(model, variables, padded, ensemble)[:, :h, :w, :1]


ONE_SHOT_COMPILER_OPTIONS = compilation_cache.ONE_SHOT_COMPILER_OPTIONS

predict_mask = jax.jit(_predict_mask, static_argnums=(0, 3))
predict_mask_one_shot = jax.jit(_predict_mask, static_argnums=(0, 3),
                                compiler_options=ONE_SHOT_COMPILER_OPTIONS)


def _view_probability(model: models.UNet, variables: dict, image: jax.Array,
                      view_hw: tuple[int, int], ensemble: bool = False) -> jax.Array:
  """Person probability [H, W, 1] of an image [H, W, 3] seen at `view_hw` (antialiased), resized
  back to [H, W]. One program with the model: on a GPU each resize compiled on its own spent
  4-12 s autotuning its matmuls (an H200, 2026-12-04), the model 0.7 s without autotuning."""
  x = jax.image.resize(image, (*view_hw, 3), 'linear', antialias=True)
  probs = _predict_mask(model, variables, x[None], ensemble)[0]
  return jnp.clip(jax.image.resize(probs, (*image.shape[:2], 1), 'linear'), 0.0, 1.0)


view_probability = jax.jit(_view_probability, static_argnums=(0, 3, 4))
view_probability_one_shot = jax.jit(_view_probability, static_argnums=(0, 3, 4),
                                    compiler_options=ONE_SHOT_COMPILER_OPTIONS)


# A U-Net with a pretrained encoder sees a photo near the scale at which its encoder learned
# rather than at its training size (a from-scratch U-Net only knows the scale of its training
# images): an ImageNet encoder with the photo's long side at 160 and at 224 px, the probabilities
# averaged (on person_composite 6.0.0's held-out runs, adding 160 to 224 kept held-out IoU and cut
# the false positives on photos without people; experiments/README.md); MediaPipe's
# person-segmentation encoder, released for 256 x 256 inputs, at 256 and 384 px: measured with
# `experiments/eval_real.py --mask_side ...` (2026-12-02), the released network at 384 px scores the
# labelme photos 0.815 and agrees 0.905 with the reference on the held-out photos of people (0.790
# and 0.792 at 256 px), and fine-tuned weights halfway to the released ones call at most
# 2.1-2.6% of a photo without people person at 256+384 px (5.8% at 384 alone).
IMAGENET_PHOTO_SIDES = (160, 224)
MEDIAPIPE_PHOTO_SIDES = (256, 384)
# The released MediaPipe network was trained on whole photos squashed to 256 x 256, and a
# fine-tuned one keeps what it learned there: that view averaged with the two above raised the
# held-out labelme photos in each of 3 seeds (mean 0.795 -> 0.809) and agreement with the reference
# by 0.03, at a cost on photos without people (an orange dahlia: 1.8-2.6% -> 1.8-7.3% called
# person); experiments/eval_real.py, 2026-12-03, experiments/README.md.
MEDIAPIPE_SQUARE_SIDES = (256,)
# A region of the averaged probability above MASK_THRESHOLD is kept only if it holds a core at
# or above MEDIAPIPE_MASK_CORE (hysteresis thresholding, as in Canny's edge detector): people are
# confident somewhere, the things the network half-believes are people (an orange dahlia, a cat's
# face) are not. On the held-out runs (3 seeds per config, experiments/README.md, 2026-12-03) it
# took the worst photo without people from 1.8-7.3% to 0.7-2.6% called person and the canteen up
# by 0.012-0.015, the labelme photos and the mean agreement with the reference within 0.005.
MASK_THRESHOLD = 0.5
MEDIAPIPE_MASK_CORE = 0.9
# The MediaPipe network, released for selfies, misses people who fill little of the photo (the
# canteen's seated crowd). So it also sees the photo as a MEDIAPIPE_TILES x MEDIAPIPE_TILES grid
# of overlapping crops, each TILE_FRACTION of the photo's height and width (its people 1.7x as
# large), each crop at the smallest long side and squashed to the square sides, cross-faded
# where crops overlap. On the held-out runs (3 seeds per config, experiments/README.md,
# 2026-12-03) it took the canteen from 0.599-0.602 to 0.718-0.725, the labelme photos from
# 0.819-0.822 to 0.820-0.830 and the worst held-out photo of people from 0.705-0.856 to
# 0.859-0.896; the cat of one run went from 3.2% to 7.8% called person, the dahlia of another
# from 2.7% to 2.3%.
MEDIAPIPE_TILES = 2
TILE_FRACTION = 0.6
# The MediaPipe network calls furry animals that face the camera person, and training on animals
# costs real people (experiments/README.md). So each region that is left is shown to an ImageNet
# classifier, and dropped where it sees an animal (`drop_animal_regions`,
# `unet_flax.animal_regions`). On the 4 held-out ensembles (experiments/README.md, 2026-12-05)
# it took the cheetah cub from 36-49% to 0%, the quokka from 30% to 0% and the cat from
# 3.0-3.2% to 0%, and left every photo of people as it was; of GCompris's 57 animal scenes,
# those over 2% from 41-44 to none (the animal classes alone left 2-3; the person head the rest).
MEDIAPIPE_DROP_ANIMALS = True


def drop_coreless_regions(probability: np.ndarray | jax.Array, core: float, fringe: int = 1,
                          threshold: float = MASK_THRESHOLD) -> np.ndarray:
  """`probability` [H, W, 1] with every region above `threshold` (8-connected) that has no pixel
  at or above `core` set to 0, and its soft edge, the `fringe` pixels around it (not of a kept
  region), too. On the host: one pass of connected-component labelling (scipy), where a
  geodesic dilation on the device needs as many steps as the longest region is wide."""
  p = np.asarray(probability, np.float32)[..., 0]
  above = p > threshold
  labels, _ = ndimage.label(above, structure=np.ones((3, 3)))
  cored = np.unique(labels[above & (p >= core)])
  return _drop_regions(p, above, np.isin(labels, cored), fringe)


def drop_animal_regions(probability: np.ndarray | jax.Array, image: np.ndarray | jax.Array,
                        classifier: animal_regions.AnimalClassifier, fringe: int = 1,
                        threshold: float = MASK_THRESHOLD) -> np.ndarray:
  """`probability` [H, W, 1] of `image` [H, W, 3] with every region above `threshold`
  (8-connected) that `classifier` sees as an animal (`is_animal`) set to 0, with its `fringe` as
  in `drop_coreless_regions`. Regions whose box is under `animal_regions.MIN_REGION_SIDE` pixels
  on both sides are kept unseen: too few pixels to tell a person from an animal."""
  p = np.asarray(probability, np.float32)[..., 0]
  image = np.asarray(image, np.float32)  # on the host once, not once per region
  above = p > threshold
  kept = above.copy()
  for region in animal_regions.regions(above):
    if classifier.is_animal(image, region):
      kept &= ~region
  return _drop_regions(p, above, kept, fringe)


def _drop_regions(p: np.ndarray, above: np.ndarray, kept: np.ndarray, fringe: int) -> np.ndarray:
  """`p` [H, W] -> [H, W, 1] with the regions of `above` outside `kept` set to 0, and the
  `fringe` pixels around them that are not in `kept`."""
  drop = ndimage.binary_dilation(above & ~kept, np.ones((3, 3)), iterations=fringe) & ~kept
  return np.where(drop, np.float32(0), p)[..., None]


def _crop_weights(length: int, crop: int, count: int) -> list[tuple[int, np.ndarray]]:
  """(start, weight [crop]) of `count` crops along an axis, the last flush with its end: each
  weight falls linearly to near 0 across the overlap with its neighbour (a cross-fade) and is 1
  elsewhere, photo edges included."""
  starts = [round(i * (length - crop) / (count - 1)) for i in range(count)]
  u = np.arange(crop, dtype=np.float32) + 0.5
  out = []
  for i, start in enumerate(starts):
    weight = np.ones(crop, np.float32)
    if i > 0 and starts[i - 1] + crop > start:  # overlaps the previous crop
      weight = np.minimum(weight, u / (starts[i - 1] + crop - start))
    if i < count - 1 and start + crop > starts[i + 1]:  # overlaps the next crop
      weight = np.minimum(weight, (crop - u) / (start + crop - starts[i + 1]))
    out.append((start, weight))
  return out


@dataclasses.dataclass(frozen=True)
class Segmenter:
  """A trained U-Net and its variables: `segmenter(image)` -> person probability [H,W,1].

  `ensemble`: `variables` are stacked along a leading axis, one row per member of an ensemble
  (`config.ensemble_size`), whose probabilities are averaged.
  `autotune=False`: compiled without GPU autotuning, for a few masks (see the module doc).
  """
  model: models.UNet
  variables: dict
  train_image_size: int
  autotune: bool = True
  ensemble: bool = False

  @classmethod
  def from_workdir(cls, workdir: str, autotune: bool = True) -> 'Segmenter':
    """Loads the best checkpoint (by validation IoU) of a `train.py` workdir."""
    variables, metadata = checkpoints.load_best(workdir)
    model = models.create_model(metadata['model'])
    ensemble = int(metadata.get('ensemble_size', 0)) > 0
    expected = jax.eval_shape(lambda: model.init(
        jax.random.key(0), jnp.zeros((1, 2**(model.depth - 1), 2**(model.depth - 1), 3)),
        train=False))
    got = jax.tree.map(lambda x: tuple(x.shape)[int(ensemble):], variables)  # no member axis
    want = jax.tree.map(lambda x: tuple(x.shape), dict(expected))
    if got != want:
      raise ValueError(f'{workdir}: checkpoint variables do not match the model config it was '
                       f'saved with ({metadata["model"]}); the checkpoint is incompatible')
    return cls(model, variables, int(metadata.get('image_size', 0)), autotune, ensemble)

  def __call__(self, image: np.ndarray | jax.Array) -> jax.Array:
    image = jnp.asarray(image, jnp.float32)
    batched = image.ndim == 4
    predict = predict_mask if self.autotune else predict_mask_one_shot
    probs = predict(self.model, self.variables, image if batched else image[None], self.ensemble)
    return probs if batched else probs[0]

  @property
  def photo_sides(self) -> tuple[int, ...]:
    """The long sides (pixels) at which `photo_probability` shows a photo by default."""
    if self.model.encoder == 'mediapipe_selfie':
      return MEDIAPIPE_PHOTO_SIDES
    if self.model.encoder != 'unet':
      return IMAGENET_PHOTO_SIDES
    return (max(self.train_image_size, 32),)

  @property
  def photo_square_sides(self) -> tuple[int, ...]:
    """The sides of the squares to which `photo_probability` also squashes a photo by default."""
    return MEDIAPIPE_SQUARE_SIDES if self.model.encoder == 'mediapipe_selfie' else ()

  @property
  def photo_tiles(self) -> int:
    """The grid (n x n crops) in which `photo_probability` also shows a photo by default (0:
    none)."""
    return MEDIAPIPE_TILES if self.model.encoder == 'mediapipe_selfie' else 0

  @property
  def photo_drop_animals(self) -> bool:
    """Whether `photo_probability` drops the regions an ImageNet classifier sees as animals by
    default (not measured for the other encoders)."""
    return MEDIAPIPE_DROP_ANIMALS and self.model.encoder == 'mediapipe_selfie'

  @property
  def photo_mask_core(self) -> float:
    """The core that a region of `photo_probability` needs to be kept by default (0: all kept;
    not measured for the other encoders)."""
    return MEDIAPIPE_MASK_CORE if self.model.encoder == 'mediapipe_selfie' else 0.0

  def photo_probability(self, image: np.ndarray | jax.Array, side: int | Sequence[int] = 0,
                        square_side: Sequence[int] | None = None,
                        core: float | None = None, tiles: int | None = None,
                        drop_animals: bool | None = None) -> jax.Array:
    """Person probability [H, W, 1] of a photo [H, W, 3] in [0, 1], at the photo's resolution.

    The U-Net sees the photo (antialiased, never upscaled) with its long side at each of
    `resolve_sides(side)` pixels, and squashed to a square of each of `square_side` pixels a side
    (None: `photo_square_sides`). With `tiles` n >= 2 (None: `photo_tiles`) it also sees an
    n x n grid of overlapping crops, each `TILE_FRACTION` of the photo's sides, each crop at the
    smallest of those sides and squashed to each square side: one view per kind, cross-faded
    where crops overlap. The probabilities are averaged over all views (multi-scale inference, as in
    DeepLab). Regions above `MASK_THRESHOLD` without a pixel at `core` (None: `photo_mask_core`)
    are then dropped (`drop_coreless_regions`), with their soft edge: as wide as one pixel of
    the coarsest view. With `drop_animals` (None: `photo_drop_animals`), so are the regions left
    that an ImageNet classifier sees as animals (`drop_animal_regions`).
    """
    sides = self.resolve_sides(side)
    square_sides = self.resolve_square_sides(square_side)
    views = [self._probability_at(image, s) for s in sides]
    views += [self._probability_at(image, s, square=True) for s in square_sides]
    tiles = self.resolve_tiles(tiles)
    if tiles:
      views += [self._tiled_probability(image, tiles, min(sides))]
      views += [self._tiled_probability(image, tiles, s, square=True) for s in square_sides]
    probability = sum(views) / len(views)
    core = self.resolve_core(core)
    drop_animals = self.resolve_drop_animals(drop_animals)
    fringe = -(-max(image.shape[:2]) // min((*sides, *square_sides)))
    if core > MASK_THRESHOLD:
      probability = drop_coreless_regions(probability, core, fringe)
    if drop_animals:
      probability = drop_animal_regions(probability, image, animal_regions.default_classifier(),
                                        fringe=fringe)
    return jnp.asarray(probability)

  def photo_masks(self, side: int | Sequence[int] = 0,
                  square_side: Sequence[int] | None = None,
                  core: float | None = None, tiles: int | None = None,
                  drop_animals: bool | None = None) -> PhotoMasks:
    """`photo_probability` at `side`, `square_side`, `core`, `tiles` and `drop_animals` as a
    mask predictor of whole photos (what stylize.py hands to `nst_flax.pipeline`)."""
    return PhotoMasks(self, tuple(self.resolve_sides(side)),
                      self.resolve_square_sides(square_side), self.resolve_core(core),
                      self.resolve_tiles(tiles), self.resolve_drop_animals(drop_animals))

  def resolve_sides(self, side: int | Sequence[int] = 0) -> list[int]:
    """The long sides (pixels) at which `photo_probability(image, side)` shows a photo; a 0
    stands for the default, `photo_sides`."""
    sides = [side] if isinstance(side, int) else list(side)
    if not sides or any(s < 0 for s in sides):
      raise ValueError(f'side={side}; expected a side >= 0 (0: the default, {self.photo_sides}) '
                       'or a non-empty list of them')
    return [s for v in sides for s in ((v,) if v else self.photo_sides)]

  def resolve_square_sides(self, square_side: Sequence[int] | None = None) -> tuple[int, ...]:
    """The sides of the squares to which `photo_probability(image, side, square_side)` squashes
    a photo; None stands for the default, `photo_square_sides`."""
    return self.photo_square_sides if square_side is None else tuple(square_side)

  def resolve_core(self, core: float | None = None) -> float:
    """The core of `photo_probability(..., core)`; None stands for `photo_mask_core`."""
    return self.photo_mask_core if core is None else float(core)

  def resolve_drop_animals(self, drop_animals: bool | None = None) -> bool:
    """`drop_animals` of `photo_probability(..., drop_animals)`; None stands for
    `photo_drop_animals`."""
    return self.photo_drop_animals if drop_animals is None else bool(drop_animals)

  def resolve_tiles(self, tiles: int | None = None) -> int:
    """The grid of `photo_probability(..., tiles)`; None stands for `photo_tiles`."""
    tiles = self.photo_tiles if tiles is None else int(tiles)
    if tiles < 0 or tiles == 1:
      raise ValueError(f'tiles={tiles}; expected 0 (none) or a grid of n x n crops, n >= 2')
    return tiles

  def _tiled_probability(self, image: np.ndarray | jax.Array, tiles: int, side: int,
                         square: bool = False) -> jax.Array:
    """`_probability_at` each crop of a `tiles` x `tiles` grid of crops `TILE_FRACTION` of the
    photo's sides (the last row and column flush with its edges), cross-faded where they overlap
    (`_crop_weights`), so that no crop's edge shows as a seam in the soft mask."""
    h, w = image.shape[:2]
    th, tw = max(1, round(h * TILE_FRACTION)), max(1, round(w * TILE_FRACTION))
    total = jnp.zeros((h, w, 1), jnp.float32)
    weight = np.zeros((h, w, 1), np.float32)
    for y, wy in _crop_weights(h, th, tiles):
      for x, wx in _crop_weights(w, tw, tiles):
        crop_weight = (wy[:, None] * wx[None, :])[..., None]
        crop = self._probability_at(image[y:y + th, x:x + tw], side, square)
        total = total.at[y:y + th, x:x + tw].add(crop * crop_weight)
        weight[y:y + th, x:x + tw] += crop_weight
    return total / weight

  def _probability_at(self, image: np.ndarray | jax.Array, side: int,
                      square: bool = False) -> jax.Array:
    h, w = image.shape[:2]
    if square:
      small = (side, side)
    else:
      scale = min(1.0, side / max(h, w))
      small = (max(1, round(h * scale)), max(1, round(w * scale)))
    view = view_probability if self.autotune else view_probability_one_shot
    return view(self.model, self.variables, jnp.asarray(image, jnp.float32), small, self.ensemble)


@dataclasses.dataclass(frozen=True)
class PhotoMasks:
  """Person masks of whole photos at their own resolution, from a Segmenter at fixed sides: an
  `nst_flax.pipeline.MaskPredictor` (`Segmenter.photo_masks`)."""
  segmenter: Segmenter
  sides: tuple[int, ...]
  square_sides: tuple[int, ...] = ()
  core: float = 0.0
  tiles: int = 0
  drop_animals: bool = False

  def __call__(self, photo: np.ndarray | jax.Array) -> np.ndarray:
    """Person probability [H, W, 1] of a photo [H, W, 3] in [0, 1]."""
    return np.asarray(self.segmenter.photo_probability(photo, list(self.sides),
                                                       self.square_sides, self.core, self.tiles,
                                                       self.drop_animals))

  @property
  def description(self) -> str:
    text = f'long side {", ".join(map(str, self.sides))} px'
    if self.square_sides:
      text += f'; squashed to {", ".join(f"{s}x{s}" for s in self.square_sides)} px'
    if self.tiles:
      text += f'; and as {self.tiles}x{self.tiles} crops of {TILE_FRACTION:g} its sides'
    if self.core > MASK_THRESHOLD:
      text += f'; regions without a core >= {self.core:g} dropped'
    if self.drop_animals:
      text += '; regions an ImageNet classifier sees as animals dropped'
    return text

  def on_device(self, device) -> PhotoMasks:
    """The same masks, with the U-Net's variables on `device`, so that it runs there."""
    variables = jax.device_put(self.segmenter.variables, device)
    return dataclasses.replace(self, segmenter=dataclasses.replace(self.segmenter,
                                                                   variables=variables))
