"""Dropping the mask regions that an ImageNet classifier sees as animals: the crops, the real
classifier and person head on real photos (a cat; labelme's people with their hand-drawn masks,
which the head was not fitted on), the head's fit and file, and the dropping with its fringe."""
import os

import numpy as np
import pytest
from skimage import data

from unet_flax import animal_regions
from unet_flax import models
from unet_flax import predict
from unet_flax.datasets import animal_cutouts
from unet_flax.datasets import person_composite


@pytest.fixture(scope='module')
def classifier():
  return animal_regions.default_classifier()


def test_region_crop_shows_the_region_alone_in_a_square():
  image = np.zeros((100, 200, 3), np.float32)
  image[..., 0] = 1.0                                       # a red photo
  region = np.zeros((100, 200), bool)
  region[40:60, 90:130] = True                              # 20 x 40 px
  crop = animal_regions.region_crop(image, region)
  assert crop.shape == (animal_regions.CROP_SIDE, animal_regions.CROP_SIDE, 3)
  np.testing.assert_allclose(crop[112, 112], [1, 0, 0], atol=1 / 255)   # the region
  # A square 1.2 x 40 = 48 px a side: the region's 20 rows fill 0.42 of it, grey above and below.
  np.testing.assert_allclose(crop[5, 112], [0.5, 0.5, 0.5], atol=1 / 255)
  np.testing.assert_allclose(crop[-5, 112], [0.5, 0.5, 0.5], atol=1 / 255)
  with pytest.raises(ValueError, match='region is empty'):
    animal_regions.region_crop(image, np.zeros_like(region))


def test_the_cat_is_an_animal_and_labelmes_people_are_not(classifier):
  cat = data.chelsea().astype(np.float32) / 255
  assert classifier.animal_probability(cat, np.ones(cat.shape[:2], bool)) > 0.9
  shares = []
  for name in ('2011_000003', '2011_000006'):
    rgb, people, _ = person_composite.load_labelme(name)
    image = rgb.astype(np.float32) / 255
    for person in people:
      ys, xs = np.nonzero(person)
      if max(np.ptp(ys), np.ptp(xs)) + 1 >= animal_regions.MIN_REGION_SIDE:
        shares.append(classifier.animal_probability(image, person))
  assert len(shares) == 6                      # all but a person 14 x 4 px
  # Measured 0.07-0.16, against MAX_ANIMAL 0.3.
  assert max(shares) < 0.2 < animal_regions.MAX_ANIMAL, shares


def test_the_person_head_keeps_labelmes_people_and_calls_the_cat_an_animal(classifier):
  assert classifier.person_head is not None
  cat = data.chelsea().astype(np.float32) / 255
  animal, person = classifier.scores(cat, np.ones(cat.shape[:2], bool))
  assert animal > 0.9 and person < animal_regions.MIN_PERSON and classifier.is_animal(
      cat, np.ones(cat.shape[:2], bool))
  people = []
  for name in ('2011_000003', '2011_000006'):
    rgb, masks, _ = person_composite.load_labelme(name)
    image = rgb.astype(np.float32) / 255
    for region in animal_regions.regions(np.any(masks, axis=0)):
      people.append(classifier.scores(image, region)[1])
      assert not classifier.is_animal(image, region)
  assert len(people) == 4 and min(people) > 0.5, people     # two people overlap in each photo


def test_upper_parts_cut_the_region_from_below():
  region = np.zeros((200, 100), bool)
  region[50:150, 30:70] = True                              # 100 rows
  parts = list(animal_regions.upper_parts(region))
  assert [int(p.any(axis=1).sum()) for p in parts] == [100, 65, 40]
  assert all(p[50].any() and not (p & ~region).any() for p in parts)
  small = np.zeros((200, 100), bool)
  small[0:30, 0:10] = True                                  # 30 rows: only the whole is seen
  assert len(list(animal_regions.upper_parts(small))) == 1


def test_fit_person_head_is_the_penalised_logistic_optimum(tmp_path):
  rng = np.random.default_rng(0)
  x = rng.normal(size=(200, 5))
  y = (x @ np.array([1.5, -2.0, 0.0, 0.5, 0.0]) + 0.3 + rng.normal(size=200) > 0).astype(int)
  head = animal_regions.fit_person_head(x, y, l2=2.0)
  p = head.probability(x)
  # Zero gradient: the log-loss's balances the penalty's for w, and alone for the bias.
  np.testing.assert_allclose(x.T @ (p - y) + 2.0 * head.w, 0, atol=1e-4)
  assert abs((p - y).sum()) < 1e-4
  assert np.mean((p > 0.5) == y) > 0.85
  path = str(tmp_path / 'head.npz')
  animal_regions.PersonHead(rng.normal(size=1280).astype(np.float32), 0.5).save(path)
  loaded = animal_regions.PersonHead.load(path)
  assert loaded.w.shape == (1280,) and loaded.b == 0.5
  head.save(path)                                           # 5 weights, not 1280
  with pytest.raises(ValueError, match=r'head.npz: w has shape \[5\], expected \[1280\]'):
    animal_regions.PersonHead.load(path)
  with pytest.raises(ValueError, match='missing.npz: expected a person head'):
    animal_regions.PersonHead.load(str(tmp_path / 'missing.npz'))


def test_the_packaged_person_head_loads():
  head = animal_regions.PersonHead.load()
  assert os.path.basename(animal_regions.PERSON_HEAD_FILE) == 'person_head.npz'
  assert head.w.shape == (1280,) and np.isfinite(head.w).all() and np.isfinite(head.b)


@pytest.mark.network
def test_the_animal_cutouts_for_the_person_head_load():
  cutouts = animal_cutouts.load_animal_cutouts()
  assert len(cutouts) == len(animal_cutouts.ANIMAL_CUTOUTS) == 102
  assert len({os.path.basename(n) for n in cutouts}) == 102  # cached by file name
  for rgb, alpha in cutouts.values():
    assert rgb.dtype == np.uint8 and rgb.shape == (*alpha.shape, 3) and min(alpha.shape) >= 40
    assert 0.1 < (alpha > 0.5).mean() < 0.9 and alpha.min() == 0.0  # a cut-out, not a box


class _LeftIsAnimal:
  """A stand-in classifier: a region in the left half of the photo is an animal."""

  def is_animal(self, image, region):
    del image
    return np.nonzero(region)[1].mean() < region.shape[1] / 2


def test_drop_animal_regions_drops_them_with_their_fringe():
  side = animal_regions.MIN_REGION_SIDE
  p = np.full((side + 8, 4 * side), 0.2, np.float32)
  p[3:side + 3, 2:side] = 0.8                               # left: an "animal"
  p[3:side + 3, 2 * side + 2:3 * side] = 0.8                # right: a person
  p[3:8, side + 4:side + 8] = 0.8                           # left, too small to be seen
  got = predict.drop_animal_regions(p[..., None], np.zeros((*p.shape, 3), np.float32),
                                    _LeftIsAnimal(), fringe=1)[..., 0]
  expected = p > 0.5
  expected[:, :side + 2] = False
  np.testing.assert_array_equal(got > 0.5, expected)
  assert got[2, 1] == 0.0 and got[2, side + 1] == got[2, 2 * side + 1] == 0.2   # the animal's
  np.testing.assert_array_equal(got[:, side + 2:], p[:, side + 2:])            # fringe only


def test_the_mediapipe_encoder_drops_animals_by_default():
  unet = predict.Segmenter(models.create_model(dict(encoder='unet', depth=3, base_filters=4)),
                           {}, train_image_size=32)
  mediapipe = predict.Segmenter(models.create_model(dict(
      encoder='mediapipe_selfie', decoder='mediapipe_selfie', depth=5)), {}, 256)
  assert not unet.photo_drop_animals and mediapipe.photo_drop_animals
  assert unet.resolve_drop_animals(True) and not mediapipe.resolve_drop_animals(False)
  masks = mediapipe.photo_masks()
  assert masks.drop_animals
  assert masks.description.endswith('regions an ImageNet classifier sees as animals dropped')


def test_the_released_network_calls_the_cat_person_and_the_check_drops_it():
  from unet_flax import mediapipe_selfie
  model = models.create_model(dict(encoder='mediapipe_selfie', decoder='mediapipe_selfie',
                                   depth=5))
  segmenter = predict.Segmenter(model, {'params': mediapipe_selfie.load_params()},
                                mediapipe_selfie.INPUT_SIZE, autotune=False)
  cat = data.chelsea().astype(np.float32) / 255
  kept = np.asarray(segmenter.photo_probability(cat, drop_animals=False)) > 0.5
  assert kept.mean() > 0.5                                  # measured 74% (eval_real.py)
  assert not (np.asarray(segmenter.photo_probability(cat)) > 0.5).any()
