"""Person masks from TFDS `coco/2017_panoptic` (for users with internet; about 20 GiB to download).

The builder's features (checked on `tfds.builder('coco/2017_panoptic').info.features`):
`image` (uint8 HxWx3), `image/id`, `panoptic_image` (uint8 HxWx3 PNG) and `panoptic_objects`
(a sequence of `id`, `label` (133 panoptic classes), `area`, `bbox`, `is_crowd`). Segment ids are
encoded in the panoptic PNG as id = R + 256*G + 256^2*B. COCO's `person` is panoptic label 0, so the
person mask is the union of the segments whose label is 0 (crowd segments included).
"""
from __future__ import annotations

import numpy as np

COCO_NAME = 'coco/2017_panoptic'
PERSON_LABEL = 0
# TFDS split names of coco/2017_panoptic; the pipeline's 'validation' maps onto COCO's 'validation'.
SPLITS = ('train', 'validation')


def panoptic_ids(panoptic_image: np.ndarray) -> np.ndarray:
  """int64[H,W] segment ids of a COCO panoptic PNG: R + 256*G + 256^2*B."""
  p = np.asarray(panoptic_image).astype(np.int64)
  return p[..., 0] + 256 * p[..., 1] + 256 * 256 * p[..., 2]


def person_mask(panoptic_image: np.ndarray, objects: dict, label: int = PERSON_LABEL) -> np.ndarray:
  """uint8[H,W,1] in {0,1}: union of the panoptic segments whose class label is `label`."""
  ids = np.asarray(objects['id']).reshape(-1)
  labels = np.asarray(objects['label']).reshape(-1)
  n = min(len(ids), len(labels))  # equal in real data; mock data may differ
  person_ids = ids[:n][labels[:n] == label]
  seg = panoptic_ids(panoptic_image)
  return np.isin(seg, person_ids).astype(np.uint8)[..., None]


def to_example(ex: dict) -> dict:
  """A decoded coco/2017_panoptic example -> {'image', 'mask', 'label_source'}."""
  image = np.asarray(ex['image'], np.uint8)
  mask = person_mask(ex['panoptic_image'], ex['panoptic_objects'])
  if mask.shape[:2] != image.shape[:2]:
    raise ValueError(
        f"coco/2017_panoptic image/id {int(np.asarray(ex.get('image/id', -1)))}: panoptic_image is "
        f'{mask.shape[1]}x{mask.shape[0]} (WxH); expected {image.shape[1]}x{image.shape[0]} like '
        'its image')
  return {'image': image, 'mask': mask, 'label_source': 'gt'}


def kept_indices(labels: list, share_without_people: float, label: int = PERSON_LABEL,
                 seed: int = 0) -> np.ndarray:
  """Indices (sorted) of the examples to keep, given each example's panoptic labels: every one
  with a `label` segment, and round(share * count) of the others, drawn by a permutation seeded
  by `seed` (the same on every process and run)."""
  has = np.array([np.isin(label, np.asarray(l).reshape(-1)) for l in labels], bool)
  without = np.flatnonzero(~has)
  keep = np.random.default_rng(seed).permutation(without)[:round(share_without_people *
                                                                  len(without))]
  return np.sort(np.concatenate([np.flatnonzero(has), keep])).astype(np.int64)
