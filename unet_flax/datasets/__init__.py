"""TFDS builders for person segmentation.

- `person_composite`: embedded offline dataset (real VOC person cut-outs on real background photos).
- `person_folder`: a user's own folder with `images/` + `masks/`.
- `coco_person`: person masks converted on the fly from `coco/2017_panoptic`.

Importing this package registers the two builders with TFDS.
"""
from unet_flax.datasets.person_composite import PersonComposite
from unet_flax.datasets.person_folder import PersonFolder

__all__ = ['PersonComposite', 'PersonFolder']
