"""U-Net architecture: exact parameter counts, output shapes, the sub-pixel transposed conv."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import unet_person, unet_person_vgg19, unet_scratch, unet_seed
from unet_flax import models
from unet_flax import predict


def _init(model, size):
  return model.init(jax.random.key(0), jnp.zeros((1, size, size, 3)), train=False)


def test_seed_config_has_exactly_the_seed_parameter_count():
  config = unet_seed.get_config()
  model = models.create_model(config.model)
  variables = jax.eval_shape(lambda: _init(model, config.data.image_size))
  assert models.param_count(variables['params']) == 8_639_745


# Counted by hand: each level 3x3 convs cin->f, f->f; each decoder a 3x3 transposed conv, 3x3 convs
# 2f->f, f->f; head 3x3 b->b and 1x1 b->1 (all with biases).
@pytest.mark.parametrize('base_filters,depth,expected', [
    (16, 4, 538_113),   # the configs/unet_scratch.py model
    (8, 3, 33_249),
    (8, 2, 7_793),
])
def test_parameter_count_follows_width_and_depth(base_filters, depth, expected):
  model = models.UNet(base_filters=base_filters, depth=depth, head_filters=base_filters)
  variables = jax.eval_shape(lambda: _init(model, 64))
  assert models.param_count(variables['params']) == expected


def test_default_config_builds():
  config = unet_person.get_config()
  model = models.create_model(config.model)
  # The main job fine-tunes the whole MediaPipe network; VGG19 stays a config choice.
  assert (model.encoder, model.decoder, model.depth) == ('mediapipe_selfie', 'mediapipe_selfie', 5)
  assert 0 < config.weight_interpolation < 1
  assert unet_person_vgg19.get_config().model.encoder == 'vgg19'
  assert unet_scratch.get_config().model.encoder == 'unet'  # the ablation's from-scratch base


@pytest.mark.parametrize('batch_norm', [False, True])
def test_output_shape_and_dtype(batch_norm):
  model = models.UNet(base_filters=4, depth=3, batch_norm=batch_norm, head_filters=4)
  x = jnp.ones((2, 32, 48, 3))
  variables = _init(model, 32)
  assert ('batch_stats' in variables) == batch_norm
  y = model.apply(variables, x, train=False)
  assert y.shape == (2, 32, 48, 1) and y.dtype == jnp.float32


@pytest.mark.parametrize('kernel_size', [2, 3, 4])
def test_subpixel_transposed_conv_matches_flax_conv_transpose(kernel_size):
  x = jax.random.normal(jax.random.key(0), (2, 5, 7, 6))
  reference = nn.ConvTranspose(4, (kernel_size, kernel_size), strides=(2, 2), padding='SAME')
  params = reference.init(jax.random.key(1), x)
  params = jax.tree.map(lambda p: jax.random.normal(jax.random.key(2), p.shape), params)
  expected = reference.apply(params, x)
  got = models.ConvTranspose2x(4, kernel_size).apply(params, x)
  assert got.shape == expected.shape == (2, 10, 14, 4)
  np.testing.assert_allclose(got, expected, atol=1e-5)
  # Gradients agree too (they are what the training step uses).
  loss = lambda mod: lambda p: jnp.sum(jnp.sin(mod.apply(p, x)))
  g_ref = jax.grad(loss(reference))(params)
  g_got = jax.grad(loss(models.ConvTranspose2x(4, kernel_size)))(params)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4), g_ref, g_got)


@pytest.mark.parametrize('shape', [(37, 53), (64, 64), (1, 1), (17, 128)])
def test_predict_mask_any_size(shape):
  model = models.UNet(base_filters=4, depth=4, head_filters=4)
  variables = _init(model, 32)
  image = jax.random.uniform(jax.random.key(3), (1,) + shape + (3,))
  probs = predict.predict_mask(model, variables, image)
  assert probs.shape == (1,) + shape + (1,)
  assert float(probs.min()) >= 0.0 and float(probs.max()) <= 1.0


def test_one_shot_segmenter_is_compiled_without_autotuning_and_agrees():
  """stylize.py's Segmenter(autotune=False) runs `predict_mask_one_shot`, compiled with
  xla_gpu_autotune_level=0 (ignored on a CPU), and gives the autotuned program's mask."""
  model = models.UNet(base_filters=4, depth=4, head_filters=4)
  variables = _init(model, 32)
  image = np.asarray(jax.random.uniform(jax.random.key(4), (45, 30, 3)))
  before = predict.predict_mask_one_shot._cache_size()
  one_shot = predict.Segmenter(model, variables, 32, autotune=False)(image)
  assert predict.predict_mask_one_shot._cache_size() == before + 1
  assert predict.ONE_SHOT_COMPILER_OPTIONS == {'xla_gpu_autotune_level': 0}
  np.testing.assert_allclose(one_shot, predict.Segmenter(model, variables, 32)(image), atol=1e-6)


def test_create_model_rejects_unknown_keys():
  with pytest.raises(ValueError, match='unknown keys'):
    models.create_model({'base_filters': 8, 'depth': 3, 'filters': 4})


@pytest.mark.parametrize('name', ['unet_person', 'unet_person_vgg19', 'unet_person_effnet',
                                  'unet_scratch', 'unet_seed', 'unet_coco'])
def test_every_unet_config_is_valid(name):
  import importlib
  from unet_flax import train
  config = importlib.import_module(f'configs.{name}').get_config()
  train.validate_config(config, num_devices=1)
  models.create_model(config.model)


def test_vgg19_encoder_unet_uses_the_pretrained_trunk(monkeypatch):
  from nst_flax import vgg
  model = models.create_model(dict(base_filters=4, depth=3, head_filters=4, encoder='vgg19'))
  variables = jax.eval_shape(lambda: _init(model, 32))
  encoder = variables['params']['encoder']
  assert sorted(encoder) == ['block1_conv1', 'block1_conv2', 'block2_conv1', 'block2_conv2',
                             'block3_conv1', 'block3_conv2', 'block3_conv3', 'block3_conv4',
                             'input_norm']                    # nothing past block3_conv4
  # pretrained_params picks exactly those layers out of the weights module's params.
  fake = vgg.init_params(image_size=32)
  monkeypatch.setattr('nst_flax.weights.load_vgg19_params', lambda *a, **k: fake)
  pretrained = models.pretrained_params(model)['encoder']
  assert jax.tree.map(lambda x: x.shape, pretrained) == jax.tree.map(lambda x: x.shape, encoder)
  out = model.apply({'params': {**_init(model, 32)['params'], 'encoder': pretrained}},
                    jnp.ones((1, 40, 24, 3)) * 0.5)
  assert out.shape == (1, 40, 24, 1) and bool(jnp.all(jnp.isfinite(out)))
  with pytest.raises(ValueError, match='encoder'):
    models.create_model(dict(encoder='resnet'))
  # An ImageNet encoder sees photos at 160 and 224 px (long side) by default, not its training
  # size.
  variables = {'params': {**_init(model, 32)['params'], 'encoder': pretrained}}
  segmenter = predict.Segmenter(model, variables, train_image_size=96)
  assert segmenter.photo_sides == predict.IMAGENET_PHOTO_SIDES == (160, 224)
  assert segmenter.resolve_sides([0, 96]) == [160, 224, 96]
  photo = np.full((300, 150, 3), 0.5, np.float32)
  probs = segmenter.photo_probability(photo)
  assert probs.shape == (300, 150, 1)
  # The same masks as the predictor that stylize.py hands to nst_flax.pipeline.
  masks = segmenter.photo_masks()
  assert masks.sides == (160, 224) and masks.description == 'long side 160, 224 px'
  np.testing.assert_array_equal(masks(photo), probs)
  np.testing.assert_array_equal(masks.on_device(jax.local_devices()[0])(photo), probs)


def test_reshape_max_pool_matches_flax_max_pool_and_its_gradient():
  from nst_flax import vgg
  x = jax.random.normal(jax.random.key(0), (2, 8, 6, 3))
  np.testing.assert_array_equal(vgg.pool2x2(x, 'max'), nn.max_pool(x, (2, 2), strides=(2, 2)))
  loss = lambda pool: lambda x: jnp.sum(jnp.sin(pool(x)))
  np.testing.assert_allclose(jax.grad(loss(lambda x: vgg.pool2x2(x, 'max')))(x),
                             jax.grad(loss(lambda x: nn.max_pool(x, (2, 2), strides=(2, 2))))(x))


def test_mediapipe_selfie_encoder_unet_shapes_and_parameter_count():
  from unet_flax import mediapipe_selfie
  model = models.create_model(dict(encoder='mediapipe_selfie', base_filters=16, depth=5,
                                   head_filters=16, dropout=0.0))
  variables = jax.eval_shape(lambda: _init(model, 64))
  encoder = jax.eval_shape(lambda: mediapipe_selfie.SelfieEncoder().init(
      jax.random.key(0), jnp.zeros((1, 64, 64, 3))))['params']
  shapes = lambda tree: jax.tree.map(lambda x: x.shape, tree)
  assert shapes(variables['params']['encoder']) == shapes(encoder)  # the released encoder, whole
  assert models.param_count(variables['params']['encoder']) == 98_576
  assert models.param_count(variables['params']) == 821_377
  out = jax.eval_shape(lambda: model.apply(_init(model, 64), jnp.zeros((2, 80, 48, 3))))
  assert out.shape == (2, 80, 48, 1)
  with pytest.raises(ValueError, match='depth=6'):
    models.create_model(dict(encoder='mediapipe_selfie', depth=6))


def test_whole_mediapipe_selfie_network_is_the_released_layout():
  from unet_flax import mediapipe_selfie
  model = models.create_model(dict(encoder='mediapipe_selfie', decoder='mediapipe_selfie',
                                   depth=5))
  params = jax.eval_shape(lambda: _init(model, 64))['params']
  released = jax.eval_shape(lambda: mediapipe_selfie.SelfieSegmentation().init(
      jax.random.key(0), jnp.zeros((1, 64, 64, 3))))['params']
  assert jax.tree.map(lambda x: x.shape, params) == jax.tree.map(lambda x: x.shape, released)
  assert sorted(params) == ['decoder', 'encoder']
  assert models.param_count(params) == mediapipe_selfie.NUM_PARAMS == 106_401
  for bad in (dict(decoder='mediapipe_selfie', depth=5),
              dict(encoder='mediapipe_selfie', decoder='mediapipe_selfie', depth=4)):
    with pytest.raises(ValueError, match="decoder='mediapipe_selfie' needs"):
      models.create_model(bad)
  with pytest.raises(ValueError, match='config.model.decoder'):
    models.create_model(dict(decoder='vgg19'))


@pytest.mark.network
def test_whole_mediapipe_selfie_network_with_released_weights_is_the_port():
  from skimage import data
  from unet_flax import mediapipe_selfie
  model = models.create_model(dict(encoder='mediapipe_selfie', decoder='mediapipe_selfie',
                                   depth=5))
  params = models.pretrained_params(model)
  x = jax.image.resize(jnp.asarray(data.astronaut(), jnp.float32) / 255, (256, 256, 3),
                       'linear')[None]
  got = model.apply({'params': params}, x)
  want = mediapipe_selfie.SelfieSegmentation().apply({'params': params}, x)
  np.testing.assert_array_equal(got, want)
  assert 0.3 < float((jax.nn.sigmoid(got) > 0.5).mean()) < 0.8   # the astronaut, not all or none
  # The encoder-only U-Net takes the same encoder subtree.
  unet = models.create_model(dict(encoder='mediapipe_selfie', depth=5))
  encoder_only = models.pretrained_params(unet)
  assert list(encoder_only) == ['encoder']
  jax.tree.map(np.testing.assert_array_equal, encoder_only['encoder'], params['encoder'])


def test_vgg19_side_encoder_starts_as_the_released_network_and_never_trains(monkeypatch):
  import optax
  from nst_flax import vgg
  from unet_flax import train
  assert models.side_vgg19_layers(2) == {'stride2': 'block1_conv2', 'stride4': 'block2_conv2',
                                         'stride8': 'block3_conv4', 'head': 'block4_conv4'}
  assert models.side_vgg19_layers(1)['head'] == 'block5_conv4'
  assert models.side_vgg19_layers(4) == {'stride4': 'block1_conv2', 'stride8': 'block2_conv2',
                                         'head': 'block3_conv4'}
  whole = dict(encoder='mediapipe_selfie', decoder='mediapipe_selfie', depth=5)
  model = models.create_model({**whole, 'side_encoder': 'vgg19'})
  params = jax.eval_shape(lambda: _init(model, 32))['params']
  # VGG19 up to block4_conv4 (10,585,158), and per merge point a LayerNorm over its channels
  # and a 1x1 projection to the MediaPipe input's: (64, 16), (128, 16), (256, 24), (512, 128).
  side = sum(2 * c + c * m + m for c, m in ((64, 16), (128, 16), (256, 24), (512, 128)))
  assert models.param_count(params['side_encoder']) == 10_585_158
  assert models.param_count(params) == 106_401 + 10_585_158 + side == 10_768_415
  assert 'block5_conv1' not in params['side_encoder']
  # Numerics on the cheaper side_downsample=4 (VGG19 up to block3_conv4).
  model = models.create_model({**whole, 'side_encoder': 'vgg19', 'side_downsample': 4})
  params = jax.jit(lambda: _init(model, 32))()['params']
  fake = vgg.init_params(image_size=32)
  monkeypatch.setattr('nst_flax.weights.load_vgg19_params', lambda *a, **k: fake)
  monkeypatch.setattr('unet_flax.mediapipe_selfie.load_params',
                      lambda **k: {n: params[n] for n in ('encoder', 'decoder')})
  pretrained = models.pretrained_params(model)
  assert sorted(pretrained) == ['decoder', 'encoder', 'side_encoder']
  assert set(pretrained['side_encoder']) == {
      n for n in vgg.LAYERS[:vgg.layer_index('block3_conv4') + 1] if 'conv' in n} | {'input_norm'}
  params = {**params, **pretrained}
  # Zero-initialised projections: at the first step it is the network without the side encoder.
  released = models.create_model(whole)
  x = jax.random.uniform(jax.random.key(1), (2, 32, 48, 3))
  np.testing.assert_array_equal(
      jax.jit(model.apply)({'params': params}, x),
      jax.jit(released.apply)({'params': {n: params[n] for n in ('encoder', 'decoder')}}, x))
  # Two optimizer steps: the projections and the MediaPipe network move, VGG19 does not.
  opt = unet_person.get_config().optimizer
  tx = train.create_optimizer(opt, 10, pretrained_encoder=True)
  loss = lambda p: jnp.mean(jax.nn.sigmoid(model.apply({'params': p}, x)))
  grads = jax.jit(jax.grad(loss))(params)
  assert float(optax.tree.norm(grads['side_encoder'])) == 0.0  # no gradient through VGG19
  assert float(optax.tree.norm(grads['side_project_head'])) > 0.0
  state, ones = tx.init(params), jax.tree.map(jnp.ones_like, params)
  for _ in range(2):    # the learning rate warms up from 0 at step 0
    updates, state = tx.update(ones, state, params)
  assert float(optax.tree.norm(updates['side_encoder'])) == 0.0
  assert float(optax.tree.norm(updates['side_project_head'])) > 0.0
  assert float(optax.tree.norm(updates['encoder'])) > 0.0
  for bad, match in ((dict(side_encoder='resnet'), 'side_encoder'),
                     (dict(side_encoder='vgg19'), "needs decoder='mediapipe_selfie'"),
                     ({**whole, 'side_encoder': 'vgg19', 'side_downsample': 3}, 'side_downsample')):
    with pytest.raises(ValueError, match=match):
      models.create_model(bad)


def test_drop_coreless_regions_is_hysteresis_thresholding():
  """Regions above 0.5 (8-connected) are kept only with a pixel >= core; a dropped region's
  edge goes with it, a kept region's stays."""
  p = np.zeros((12, 16), np.float32)
  p[1:5, 1:5] = 0.6
  p[2, 2] = 0.95                 # region A: has a core
  p[7:10, 2:6] = 0.7             # region B: no core
  p[10, 6] = 0.3                 # B's soft edge, diagonal to it
  p[5, 6] = 0.8
  p[4, 5] = 0.55                 # C: touches A diagonally, so it is part of A
  p[7:11, 10:14] = 0.92          # D: a core everywhere
  p[6, 10] = 0.4                 # D's soft edge
  got = predict.drop_coreless_regions(jnp.asarray(p)[..., None], 0.9, 1)[..., 0]
  kept = np.zeros_like(p, bool)
  kept[1:5, 1:5] = kept[5, 6] = kept[4, 5] = True   # A with C
  kept[7:11, 10:14] = True                          # D
  np.testing.assert_array_equal(got > 0.5, kept)
  assert got[10, 6] == 0.0 and got[6, 10] == p[6, 10]   # B's edge dropped, D's kept
  np.testing.assert_array_equal(got[kept], p[kept])
  # A core at or below the threshold keeps every region.
  np.testing.assert_array_equal(
      predict.drop_coreless_regions(p[..., None], 0.5, 1)[..., 0] > 0.5, p > 0.5)


def test_photo_probability_with_a_core_and_one_view_size():
  """A core above the threshold with one long side and no square view (the fringe's width is
  taken over the view sizes)."""
  model = models.create_model(dict(encoder='unet', depth=3, base_filters=4))
  segmenter = predict.Segmenter(model, _init(model, 32), train_image_size=32)
  photo = np.random.default_rng(0).random((50, 80, 3), np.float32)
  cored = np.asarray(segmenter.photo_probability(photo, 32, [], core=0.6))
  plain = np.asarray(segmenter.photo_probability(photo, 32, [], core=0))
  np.testing.assert_array_equal(cored, predict.drop_coreless_regions(plain, 0.6, 3))


def test_photo_probability_tiles_cross_fade_overlapping_crops():
  """tiles=2: four crops of 0.6 the photo's sides, flush with its corners, each seen at the
  smallest side and squashed to each square side; each kind of crop view is cross-faded where the
  crops overlap (weights falling linearly to ~0 across the overlap, summing to 1), then averaged
  with the whole-photo views."""
  model = models.create_model(dict(encoder='unet', depth=3, base_filters=4))
  segmenter = predict.Segmenter(model, _init(model, 32), train_image_size=32)
  assert segmenter.photo_tiles == 0  # on by default for the MediaPipe network only
  photo = np.random.default_rng(0).random((50, 80, 3), np.float32)
  view = lambda image, square: np.asarray(segmenter._probability_at(image, 32, square))
  # Rows: crops at 0 and 20, 30 high, overlapping on rows 20-29; columns at 0 and 32, 48 wide.
  fade = lambda n: (np.arange(n) + 0.5) / n      # 0 -> 1 across an overlap of n
  wy0 = np.concatenate([np.ones(20), 1 - fade(10)])
  wx0 = np.concatenate([np.ones(32), 1 - fade(16)])
  weights = {(0, 0): (wy0, wx0), (0, 32): (wy0, wx0[::-1]), (20, 0): (wy0[::-1], wx0),
             (20, 32): (wy0[::-1], wx0[::-1])}
  tiled = {}
  for square in (False, True):
    total, norm = np.zeros((50, 80, 1)), np.zeros((50, 80, 1))
    for (y, x), (wy, wx) in weights.items():
      w = np.outer(wy, wx)[..., None]
      total[y:y + 30, x:x + 48] += w * view(photo[y:y + 30, x:x + 48], square)
      norm[y:y + 30, x:x + 48] += w
    np.testing.assert_allclose(norm, 1.0, atol=1e-6)  # a partition of unity
    tiled[square] = total
  whole = (view(photo, False) + view(photo, True)) / 2
  got = segmenter.photo_probability(photo, [32], [32], core=0, tiles=2)
  np.testing.assert_allclose(got, (2 * whole + tiled[False] + tiled[True]) / 4, atol=1e-5)
  masks = segmenter.photo_masks(32, [32], 0, tiles=2)
  assert masks.description == ('long side 32 px; squashed to 32x32 px; and as 2x2 crops of 0.6 '
                               'its sides')
  np.testing.assert_allclose(masks(photo), got, atol=1e-6)
  with pytest.raises(ValueError, match='tiles=1; expected 0'):
    segmenter.photo_masks(tiles=1)
