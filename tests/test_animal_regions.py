"""Dropping the mask regions that an ImageNet classifier sees as animals: the crops, the real
classifier on real photos (a cat; labelme's people with their hand-drawn masks), and the
dropping with its fringe."""
import numpy as np
import pytest
from skimage import data

from unet_flax import animal_regions
from unet_flax import models
from unet_flax import predict
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


class _LeftIsAnimal:
  """A stand-in classifier: a region in the left half of the photo is an animal."""

  def animal_probability(self, image, region):
    del image
    return 0.9 if np.nonzero(region)[1].mean() < region.shape[1] / 2 else 0.1


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
