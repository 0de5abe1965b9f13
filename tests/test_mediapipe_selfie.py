"""The Flax port of MediaPipe selfie segmentation against the TFLite interpreter on real photos.

The .tflite comes from npm's registry (fetched once into the nst_flax cache, like the other pinned
files). The interpreter keeps every intermediate tensor (`experimental_preserve_all_tensors`), so
the port is compared at each skip point, not only at the output.
"""
import warnings

import jax
import jax.numpy as jnp
import matplotlib.cbook
import numpy as np
import pytest
from PIL import Image
from skimage import data

from nst_flax import package_files
from nst_flax import weights
from unet_flax import mediapipe_selfie

# Skip point -> the .tflite tensor holding it (Keras layer names), then the logits and output.
CHECKPOINTS = {'stride2': 'h_swish', 'stride4': 'conv2d_4', 'stride8': 'add__xeno_compat__1',
               'stride16': 'add_4__xeno_compat__1', 'head': 'multiply_6'}


def _photos():
  """Two portraits and a photo without people, squashed to 256x256 (bilinear), RGB in [0, 1]."""
  with matplotlib.cbook.get_sample_data('grace_hopper.jpg') as f:
    hopper = np.asarray(Image.open(f).convert('RGB'))
  photos = {'astronaut': data.astronaut(), 'grace_hopper': hopper, 'coffee': data.coffee()}
  return {name: np.asarray(Image.fromarray(rgb).resize((256, 256), Image.BILINEAR),
                           np.float32) / 255 for name, rgb in photos.items()}


@pytest.fixture(scope='module')
def tflite_path():
  return package_files.fetch_package_file(mediapipe_selfie.WEIGHTS, verbose=False)


@pytest.fixture(scope='module')
def params():
  return mediapipe_selfie.load_params(verbose=False)


@pytest.fixture(scope='module')
def reference(tflite_path):
  """Photo name -> every tensor of the interpreter's run on it, by name."""
  litert = pytest.importorskip('ai_edge_litert.interpreter',
                               reason='comparing with TFLite needs ai-edge-litert')
  with warnings.catch_warnings():  # preserving all tensors is meant for debugging, as here
    warnings.simplefilter('ignore')
    interpreter = litert.Interpreter(model_path=tflite_path,
                                     experimental_preserve_all_tensors=True)
  interpreter.allocate_tensors()
  names = {t['name']: t['index'] for t in interpreter.get_tensor_details()}
  tensors = {}
  for name, x in _photos().items():
    interpreter.set_tensor(interpreter.get_input_details()[0]['index'], x[None])
    interpreter.invoke()
    tensors[name] = {n: interpreter.get_tensor(i).copy() for n, i in names.items()}
  return tensors


@pytest.fixture(scope='module')
def port(params):
  """Photo name -> the port's skip points and logits on it (one batch of all photos)."""
  photos = _photos()
  model = mediapipe_selfie.SelfieSegmentation()
  x = np.stack(list(photos.values()))
  feats = jax.jit(lambda p, x: model.apply({'params': p}, x, features=True))(params, x)
  logits = jax.jit(model.apply)({'params': params}, x)
  return {name: {**{k: np.asarray(v[i]) for k, v in feats.items()},
                 'logits': np.asarray(logits[i])} for i, name in enumerate(photos)}


@pytest.mark.network
@pytest.mark.parametrize('photo', ['astronaut', 'grace_hopper', 'coffee'])
def test_port_matches_tflite_at_skip_points_and_output(port, reference, photo):
  ours, ref = port[photo], reference[photo]
  for name, tensor in CHECKPOINTS.items():
    expected = ref[tensor][0]
    # Relative to the map's largest magnitude (up to ~45); measured: below 2e-6.
    np.testing.assert_allclose(ours[name], expected, rtol=0,
                               atol=1e-5 * np.abs(expected).max(), err_msg=name)
  logits = ref['segment'][0]  # up to ~760 in magnitude; measured: below 4e-6 of that
  np.testing.assert_allclose(ours['logits'], logits, rtol=0, atol=1e-5 * np.abs(logits).max())
  # Logits of hundreds are sums of terms as large, so float32 rounding moves the few near 0 by
  # ~1e-3: measured 1.1e-4 in probability on coffee, where the interpreter is itself 8.4e-5 from
  # a float64 run of the port (and the float32 port 2.1e-5).
  np.testing.assert_allclose(jax.nn.sigmoid(ours['logits']), ref['activation_10'][0], atol=2e-4)


@pytest.mark.network
def test_finds_the_people(port, reference):
  person = {name: (jax.nn.sigmoid(out['logits']) > 0.5).mean() for name, out in port.items()}
  assert person['astronaut'] > 0.4 and person['grace_hopper'] > 0.4
  # The released model calls 19% of the coffee photo a person (the interpreter agrees).
  expected = (reference['coffee']['activation_10'] > 0.5).mean()
  assert person['coffee'] == pytest.approx(expected, abs=1e-3)


@pytest.mark.network
def test_upsampling_is_tflite_resize_bilinear(reference):
  ref = reference['astronaut']
  for before, after in (('multiply_6', 'up_sampling2d'),
                        ('add_7__xeno_compat__1', 'up_sampling2d_1'),
                        ('add_10__xeno_compat__1', 'up_sampling2d_2')):
    np.testing.assert_allclose(jax.jit(mediapipe_selfie.upsample2x)(ref[before]), ref[after],
                               rtol=1e-6, atol=1e-6)


def test_upsampling_is_half_pixel_bilinear():
  x = np.random.default_rng(0).normal(size=(2, 5, 7, 3)).astype(np.float32)
  np.testing.assert_allclose(mediapipe_selfie.upsample2x(x),
                             jax.image.resize(x, (2, 10, 14, 3), 'bilinear'), atol=1e-6)


@pytest.mark.network
def test_graph_is_the_one_written_out(tflite_path):
  graph = mediapipe_selfie.read_tflite(tflite_path)
  ops = [o.op for o in graph.operators]
  assert len(ops) == 246 and ops.count('CONV_2D') == 43 and ops.count('DEPTHWISE_CONV_2D') == 11
  assert ops.count('DEQUANTIZE') == 110 and ops[-2:] == ['Convolution2DTransposeBias', 'LOGISTIC']
  assert graph.operators[-2].options == {'padding': 'SAME', 'stride_w': 2, 'stride_h': 2}
  for o in graph.operators:
    if o.op == 'RESIZE_BILINEAR':
      assert o.options['half_pixel_centers'] and not o.options['align_corners']
    if 'fused_activation' in o.options:
      assert o.options['fused_activation'] == 'NONE'  # activations are ops of their own
  names = [graph.tensors[i].name for i in graph.inputs + graph.outputs]
  assert names == ['input_1', 'activation_10']
  assert graph.tensors[graph.inputs[0]].shape == (1, 256, 256, 3)
  layers = {name.rsplit('/', 1)[0] for name in graph.constants() if name.endswith('/Kernel')}
  assert layers == set(mediapipe_selfie.TFLITE_LAYERS.values())  # every layer is used


@pytest.mark.network
def test_params_match_init_and_count(params, tflite_path):
  init = jax.eval_shape(lambda: mediapipe_selfie.SelfieSegmentation().init(
      jax.random.key(0), jnp.zeros((1, 64, 64, 3))))
  expected = jax.tree.map(lambda a: (a.shape, a.dtype), init['params'])
  assert jax.tree.map(lambda a: (a.shape, a.dtype), params) == expected
  n = sum(a.size for a in jax.tree.leaves(params))
  assert n == mediapipe_selfie.NUM_PARAMS == 106_401
  # Every float constant of the file is a parameter (the resize ops' int32 sizes aside).
  constants = mediapipe_selfie.read_tflite(tflite_path).constants()
  assert sum(v.size for v in constants.values() if v.dtype == np.float32) == n


def test_parameter_count_without_weights():
  shapes = jax.eval_shape(lambda: mediapipe_selfie.SelfieSegmentation().init(
      jax.random.key(0), jnp.zeros((1, 32, 32, 3))))['params']
  assert sum(a.size for a in jax.tree.leaves(shapes)) == mediapipe_selfie.NUM_PARAMS


@pytest.mark.network
def test_other_input_sizes(params, port):
  # The astronaut squashed to 192 x 320 instead of 256 x 256: the same person.
  model = mediapipe_selfie.SelfieSegmentation()
  h, w = 192, 320
  x = np.asarray(Image.fromarray(data.astronaut()).resize((w, h), Image.BILINEAR),
                 np.float32)[None] / 255
  feats = jax.eval_shape(lambda x: model.apply({'params': params}, x, features=True), x)
  assert {k: v.shape for k, v in feats.items()} == {
      name: (1, h // s, w // s, c) for name, s, c in mediapipe_selfie.FEATURES}
  logits = jax.jit(model.apply)({'params': params}, x)
  assert logits.shape == (1, h, w, 1)
  masks = [np.asarray(Image.fromarray(np.asarray(jax.nn.sigmoid(l))[..., 0]).resize(
      (512, 512), Image.BILINEAR)) > 0.5 for l in (port['astronaut']['logits'], logits[0])]
  iou = (masks[0] & masks[1]).sum() / (masks[0] | masks[1]).sum()
  assert iou > 0.9  # measured 0.95


@pytest.mark.network
def test_segmenter_averages_aspect_kept_squashed_and_cropped_views(params):
  """A U-Net on this network sees a photo with its long side at 256 and 384 px, squashed to
  256 x 256 (the view the released network was trained on) and as 2 x 2 crops, the
  probabilities averaged."""
  from unet_flax import models
  from unet_flax import predict
  model = models.create_model(dict(encoder='mediapipe_selfie', decoder='mediapipe_selfie',
                                   depth=5))
  segmenter = predict.Segmenter(model, {'params': params}, mediapipe_selfie.INPUT_SIZE)
  assert segmenter.photo_sides == (256, 384) and segmenter.photo_square_sides == (256,)
  assert segmenter.photo_tiles == predict.MEDIAPIPE_TILES == 2
  photo = data.astronaut()[64:448].astype(np.float32) / 255  # 384 x 512
  squashed = jax.image.resize(photo, (256, 256, 3), 'linear', antialias=True)
  square_view = jnp.clip(jax.image.resize(segmenter(squashed), (384, 512, 1), 'linear'), 0, 1)
  aspect_views = segmenter.photo_probability(photo, square_side=[], core=0, tiles=0)
  whole = segmenter.photo_probability(photo, core=0, tiles=0)
  np.testing.assert_allclose(whole, (2 * aspect_views + square_view) / 3, atol=1e-5)
  tiles = (segmenter._tiled_probability(photo, 2, 256)
           + segmenter._tiled_probability(photo, 2, 256, square=True))
  average = segmenter.photo_probability(photo, core=0)
  np.testing.assert_allclose(average, (3 * whole + tiles) / 5, atol=1e-5)
  # Then regions without a core >= 0.9 are dropped, with a 2-pixel edge (512 / 256), and those
  # an ImageNet classifier sees as animals: not the astronaut.
  assert segmenter.photo_mask_core == predict.MEDIAPIPE_MASK_CORE == 0.9
  assert segmenter.photo_drop_animals
  np.testing.assert_array_equal(segmenter.photo_probability(photo),
                                predict.drop_coreless_regions(average, 0.9, 2))
  masks = segmenter.photo_masks()
  assert masks.description == ('long side 256, 384 px; squashed to 256x256 px; and as 2x2 '
                               'crops of 0.6 its sides; regions without a core >= 0.9 dropped; '
                               'regions an ImageNet classifier sees as animals dropped')
  np.testing.assert_allclose(masks(photo), segmenter.photo_probability(photo), atol=1e-6)
  assert segmenter.photo_masks(384, [], 0, 0, False).description == 'long side 384 px'


def test_bad_input_shape_is_one_clear_error():
  model = mediapipe_selfie.SelfieSegmentation()
  for shape in ((1, 250, 256, 3), (1, 256, 256, 4), (256, 256, 3)):
    with pytest.raises(ValueError, match=r'divisible by 16, got shape \['):
      jax.eval_shape(lambda x: model.init(jax.random.key(0), x), jnp.zeros(shape))


def test_not_a_tflite_file_is_one_clear_error(tmp_path):
  path = tmp_path / 'model.tflite'
  path.write_bytes(b'PK\x03\x04 a zip, not a FlatBuffer')
  with pytest.raises(weights.WeightsError, match=f'^{path}: not a TFLite model'):
    mediapipe_selfie.params_from_tflite(str(path))


@pytest.mark.network
def test_truncated_tflite_file_is_one_clear_error(tmp_path, tflite_path):
  path = tmp_path / 'truncated.tflite'
  with open(tflite_path, 'rb') as f:
    path.write_bytes(f.read()[:100_000])
  with pytest.raises(weights.WeightsError, match=f'^{path}: truncated or malformed TFLite model'):
    mediapipe_selfie.read_tflite(str(path))
