"""A functional Flax U-Net for binary (person) segmentation.

Depth and width are one knob each: `base_filters` doubles at every level for `depth` levels (the
deepest level is the bottleneck). The seed configuration (base_filters=32, depth=5, dropout 0.3 in
the two deepest encoder blocks, 3x3 stride-2 transposed convs, a 3x3/32 head then a 1x1 conv) has
exactly 8,639,745 parameters, pinned by `tests/test_models.py`.

`encoder='vgg19'` replaces the from-scratch encoder by the ImageNet VGG19 trunk of `nst_flax`
(the same weights module serves both networks): level l's skip is the last conv of VGG block l+1,
the decoder and head are as above. Trained on a few real people, it is the encoder's ImageNet
features that let the masks hold up on real photos.

`encoder='efficientnet_lite0'` uses the ImageNet EfficientNet-Lite0 of `unet_flax.efficientnet`
(BatchNorm folded into the convs, so it is plain params under params['encoder'], frozen and
fine-tuned like the VGG19). Level l works at stride 2**l: levels 1..depth-1 take its features at
strides 2, 4, 8, 16, 32 (16, 24, 40, 112, 320 channels; the deepest is the bottleneck), so depth
is 2..6. It has no stride-1 features: level 0's skip is a from-scratch ConvBlock on the image
(`skip0`, a decoder-side parameter that trains while the encoder is frozen).

`encoder='mediapipe_selfie'` uses the encoder of MediaPipe's selfie segmentation network
(`unet_flax.mediapipe_selfie`, trained on a large person-segmentation set: its features already
know people). Levels 1..depth-1 take its skip points at strides 2, 4, 8 (16, 16, 24 channels) and,
for the bottleneck at stride 16, its encoder output and head together (32 + 128 channels), so depth
is 2..5; level 0's skip is `skip0`, as for EfficientNet. `decoder='mediapipe_selfie'` (with that
encoder and depth 5) replaces the U-Net decoder and head by the network's own decoder: the whole
released network, params {'encoder', 'decoder'}, fine-tuned from its released weights.

`side_encoder='vgg19'` (with the whole MediaPipe network) adds ImageNet VGG19 features beside the
person-aware ones: VGG19, frozen, sees the image average-pooled by `side_downsample`; each of the
decoder's inputs (skips at strides 2, 4, 8 and the head at 16) gets the VGG19 block output at its
stride, layer-normalised and projected by a zero-initialised 1x1 conv, added. At the first step the
network is the released one; params['side_encoder'] (the VGG19 weights) never train, and no
backward pass runs through them.

The model takes RGB images in [0, 1] and returns logits; `jax.nn.sigmoid` of channel 0 is the
person probability.
"""
from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from nst_flax import vgg
from unet_flax import efficientnet
from unet_flax import mediapipe_selfie

Array = jax.Array


@functools.lru_cache(maxsize=None)
def _subpixel_taps(kernel_size: int) -> tuple[int, int, tuple[tuple[int, int, int], ...]]:
  """For a stride-2 'SAME' transposed conv: (lo, hi, taps) with taps (phase, kernel_tap, offset).

  Output position 2p + phase receives x[p + offset] * kernel[kernel_tap]; `lo..hi` bounds the
  offsets, i.e. the window of input positions each output phase reads. Derived from
  `lax.conv_transpose(..., padding='SAME', transpose_kernel=False)`, which dilates the input by 2,
  pads it by `pad_lo` and correlates with the kernel.
  """
  stride = 2
  pad_len = kernel_size + stride - 2
  pad_lo = kernel_size - 1 if stride > kernel_size - 1 else -(-pad_len // 2)
  taps = []
  for phase in range(stride):
    for tap in range(kernel_size):
      dilated = phase + tap - pad_lo  # index into the dilated input, relative to 2p
      if dilated % stride == 0:
        taps.append((phase, tap, dilated // stride))
  offsets = [o for _, _, o in taps]
  return min(offsets), max(offsets), tuple(taps)


class ConvTranspose2x(nn.Module):
  """Stride-2 'SAME' transposed convolution, computed as a sub-pixel convolution.

  Same parameters (`kernel` [k, k, in, out], `bias`) and the same output as
  `nn.ConvTranspose(features, (k, k), strides=(2, 2), padding='SAME')`, but written as one
  ordinary stride-1 convolution over the undilated input that produces the four output phases as
  channels, followed by a depth-to-space reshape. XLA:CPU runs the weight gradient of
  `nn.ConvTranspose` (an lhs-dilated convolution) through a slow generic path; this form's
  gradients are ordinary convolutions and it does no multiplications by inserted zeros.
  """
  features: int
  kernel_size: int = 3
  kernel_init: Any = nn.initializers.lecun_normal()

  @nn.compact
  def __call__(self, x: Array) -> Array:
    k = self.kernel_size
    in_features = x.shape[-1]
    kernel = self.param('kernel', self.kernel_init, (k, k, in_features, self.features))
    bias = self.param('bias', nn.initializers.zeros_init(), (self.features,))
    lo, hi, taps = _subpixel_taps(k)
    window = hi - lo + 1
    # Scatter matrix S[phase, window_pos, tap] (static), so that the phase kernels are
    # K[wy, wx, c, (py, px, o)] = sum_{ty, tx} S[py, wy, ty] S[px, wx, tx] kernel[ty, tx, c, o].
    scatter = np.zeros((2, window, k), np.float32)
    for phase, tap, offset in taps:
      scatter[phase, offset - lo, tap] = 1.0
    scatter = jnp.asarray(scatter, kernel.dtype)
    phase_kernel = jnp.einsum('aiy,bjx,yxco->ijcabo', scatter, scatter, kernel)
    phase_kernel = phase_kernel.reshape(window, window, in_features, 4 * self.features)
    y = jax.lax.conv_general_dilated(
        x, phase_kernel.astype(x.dtype), window_strides=(1, 1),
        padding=((-lo, hi), (-lo, hi)), dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
    n, h, w, _ = y.shape
    y = y.reshape(n, h, w, 2, 2, self.features).transpose(0, 1, 3, 2, 4, 5)
    return y.reshape(n, 2 * h, 2 * w, self.features) + bias.astype(x.dtype)


class ConvBlock(nn.Module):
  """Two 3x3 convolutions, each followed by (optional) batch norm and ReLU."""
  features: int
  batch_norm: bool = False
  dtype: Any = jnp.float32  # compute dtype; parameters are float32

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    for i in range(2):
      x = nn.Conv(self.features, (3, 3), padding='SAME', use_bias=not self.batch_norm,
                  dtype=self.dtype, name=f'conv{i + 1}')(x)
      if self.batch_norm:
        x = nn.BatchNorm(use_running_average=not train, dtype=self.dtype, name=f'bn{i + 1}')(x)
      x = nn.relu(x)
    return x


# The last conv of each VGG19 block: the skip features of U-Net levels 0..4.
VGG19_LEVEL_LAYERS = ('block1_conv2', 'block2_conv2', 'block3_conv4', 'block4_conv4',
                      'block5_conv4')


class UNet(nn.Module):
  """U-Net: `depth` levels, `base_filters * 2**level` filters at each level.

  Attributes:
    base_filters: filters of the first level; each deeper level doubles them.
    depth: number of levels including the bottleneck (the input is pooled `depth - 1` times, so
      spatial sizes must be multiples of 2**(depth - 1); `predict.py` pads to that).
    dropout: dropout rate applied after the convs of the `dropout_levels` deepest encoder blocks.
    dropout_levels: how many of the deepest encoder blocks get dropout.
    batch_norm: batch norm after every 3x3 conv of the encoder/decoder blocks.
    num_classes: output channels (1 for person-vs-background logits).
    up_kernel_size: kernel size of the stride-2 transposed convs.
    head_filters: filters of the extra 3x3 conv before the 1x1 output conv (0 disables it).
    encoder: 'unet' (from-scratch conv blocks), 'vgg19' (the ImageNet VGG19 trunk under
      params['encoder'], Keras layer names), 'efficientnet_lite0' (ImageNet EfficientNet-Lite0
      under params['encoder']) or 'mediapipe_selfie' (the person-segmentation encoder of
      MediaPipe's selfie network); load the pretrained ones with `pretrained_params`.
    decoder: 'unet' (the levels above) or 'mediapipe_selfie' (that network's own decoder, with
      its encoder: the whole released network; base_filters, head_filters and dropout unused).
    side_encoder: 'none' or 'vgg19' (frozen ImageNet VGG19 features added at the MediaPipe
      decoder's inputs; needs decoder='mediapipe_selfie').
    side_downsample: the side encoder sees the image average-pooled by this factor (1, 2 or 4;
      its cost falls with the square).
    dtype: the compute dtype (config.dtype: float32, or bfloat16 on TPUs and recent GPUs).
      Parameters stay float32 (cast for each use) and the logits are returned in float32, so
      the loss and the optimizer work in float32 either way. (The MediaPipe network's own layers,
      about 0.1 M parameters, compute in float32.)
  """
  base_filters: int = 32
  depth: int = 5
  dropout: float = 0.3
  dropout_levels: int = 2
  batch_norm: bool = False
  num_classes: int = 1
  up_kernel_size: int = 3
  head_filters: int = 32
  encoder: str = 'unet'
  decoder: str = 'unet'
  side_encoder: str = 'none'
  side_downsample: int = 2
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array, train: bool = False) -> Array:
    if self.decoder == 'mediapipe_selfie':
      features = mediapipe_selfie.SelfieEncoder(name='encoder')(x)
      if self.side_encoder == 'vgg19':
        features = self._add_vgg19_side(x, features)
      return mediapipe_selfie.SelfieDecoder(name='decoder')(features)
    if self.encoder == 'vgg19':
      x, skips = self._vgg19_encoder(x)
    elif self.encoder == 'efficientnet_lite0':
      x, skips = self._efficientnet_encoder(x, train)
    elif self.encoder == 'mediapipe_selfie':
      x, skips = self._mediapipe_selfie_encoder(x, train)
    else:
      x, skips = self._unet_encoder(x, train)
    for level in reversed(range(self.depth - 1)):
      features = self.base_filters * 2**level
      x = ConvTranspose2x(features, self.up_kernel_size, name=f'upsample{level}')(x)
      x = jnp.concatenate([x, skips[level].astype(x.dtype)], axis=-1)
      x = ConvBlock(features, self.batch_norm, self.dtype, name=f'decoder{level}')(x, train)
    if self.head_filters:
      x = nn.relu(nn.Conv(self.head_filters, (3, 3), padding='SAME', dtype=self.dtype,
                          name='head')(x))
    logits = nn.Conv(self.num_classes, (1, 1), dtype=self.dtype, name='logits')(x)
    return logits.astype(jnp.float32)

  def _vgg19_encoder(self, x: Array) -> tuple[Array, list[Array]]:
    from nst_flax import weights  # pylint: disable=g-import-not-at-top
    layers = VGG19_LEVEL_LAYERS[:self.depth]
    features = vgg.VGG19(pooling='max', exact_kernel_grads=True, name='encoder')(
        weights.preprocess(x).astype(self.dtype), layers=layers)
    # VGG activations run into the hundreds; a LayerNorm per level brings them to the decoder's
    # scale (it is trained with the decoder, also while the encoder is frozen).
    features = [nn.LayerNorm(dtype=self.dtype, name=f'encoder_norm{level}')(features[name])
                for level, name in enumerate(layers)]
    return features[-1], features[:-1]

  def _add_vgg19_side(self, x: Array, features: dict[str, Array]) -> dict[str, Array]:
    from nst_flax import weights  # pylint: disable=g-import-not-at-top
    merges = side_vgg19_layers(self.side_downsample)
    for _ in range(self.side_downsample.bit_length() - 1):
      x = vgg.pool2x2(x, 'avg')
    side = vgg.VGG19(pooling='max', name='side_encoder')(
        weights.preprocess(x).astype(self.dtype), layers=tuple(merges.values()))
    features = dict(features)
    for name, layer in merges.items():
      # Frozen: no gradient flows into VGG19, so its backward pass is never computed.
      f = jax.lax.stop_gradient(side[layer])
      f = nn.LayerNorm(dtype=self.dtype, name=f'side_norm_{name}')(f)
      f = nn.Conv(features[name].shape[-1], (1, 1), kernel_init=nn.initializers.zeros,
                  dtype=self.dtype, name=f'side_project_{name}')(f)
      features[name] = features[name] + f.astype(features[name].dtype)
    return features

  def _efficientnet_encoder(self, x: Array, train: bool) -> tuple[Array, list[Array]]:
    features = efficientnet.EfficientNetLite0(dtype=self.dtype, name='encoder')(
        x, num_levels=self.depth - 1)
    # Its outputs are linear projections of varying scale: normalised per level, as for VGG.
    return self._strided_levels(x, features, train)

  def _mediapipe_selfie_encoder(self, x: Array, train: bool) -> tuple[Array, list[Array]]:
    features = mediapipe_selfie.SelfieEncoder(name='encoder')(x)
    levels = [features['stride2'], features['stride4'], features['stride8'],
              jnp.concatenate([features['stride16'], features['head']], axis=-1)]
    # Normalised per level, as for the ImageNet encoders (the head's ReLU outputs run large).
    return self._strided_levels(x, levels[:self.depth - 1], train)

  def _strided_levels(self, x: Array, features: list[Array],
                      train: bool) -> tuple[Array, list[Array]]:
    """(bottleneck, skips) from an encoder's features at strides 2, 4, ...: each normalised
    (`encoder_norm{level}`), and level 0's skip (stride 1, which such an encoder lacks) a
    from-scratch ConvBlock on the image (`skip0`)."""
    levels = [nn.LayerNorm(dtype=self.dtype, name=f'encoder_norm{level}')(f)
              for level, f in enumerate(features, start=1)]
    skip0 = ConvBlock(self.base_filters, self.batch_norm, self.dtype, name='skip0')(
        x.astype(self.dtype), train)
    return levels[-1], [skip0] + levels[:-1]

  def _unet_encoder(self, x: Array, train: bool) -> tuple[Array, list[Array]]:
    skips = []
    x = x.astype(self.dtype)
    for level in range(self.depth):
      x = ConvBlock(self.base_filters * 2**level, self.batch_norm, self.dtype,
                    name=f'encoder{level}')(x, train)
      if self.dropout > 0 and level >= self.depth - self.dropout_levels:
        x = nn.Dropout(self.dropout, deterministic=not train)(x)
      if level < self.depth - 1:
        skips.append(x)
        # Reshape + max: same values and gradients as nn.max_pool, but its backward fuses
        # instead of a select-and-scatter (~5x faster on XLA:CPU; benchmarks/README.md).
        x = vgg.pool2x2(x, 'max')
    return x, skips


# The encoders `create_model` accepts, and the most levels each can feed (None: any).
ENCODER_MAX_DEPTH = {'unet': None, 'vgg19': len(VGG19_LEVEL_LAYERS),
                     'efficientnet_lite0': efficientnet.MAX_LEVELS + 1,
                     'mediapipe_selfie': 5}
DECODERS = ('unet', 'mediapipe_selfie')
SIDE_ENCODERS = ('none', 'vgg19')
SIDE_DOWNSAMPLES = (1, 2, 4)
# The MediaPipe decoder's inputs that a side encoder feeds: the skips it merges and its start.
SIDE_MERGE_POINTS = ('stride2', 'stride4', 'stride8', 'head')


def side_vgg19_layers(downsample: int) -> dict[str, str]:
  """{MediaPipe decoder input: the VGG19 layer at its stride} when VGG19 sees the image pooled by
  `downsample` (VGG19_LEVEL_LAYERS[l] is at stride 2**l of its own input)."""
  strides = {name: stride for name, stride, _ in mediapipe_selfie.FEATURES}
  layers = {}
  for name in SIDE_MERGE_POINTS:
    level = (strides[name] // downsample).bit_length() - 1
    if strides[name] >= downsample and level < len(VGG19_LEVEL_LAYERS):
      layers[name] = VGG19_LEVEL_LAYERS[level]
  return layers


# config.dtype -> the compute dtype; not a config.model key (float32 parameters either way, so
# a checkpoint serves both).
COMPUTE_DTYPES = {'float32': jnp.float32, 'bfloat16': jnp.bfloat16}
_NOT_CONFIG_FIELDS = {'parent', 'name', 'dtype'}


def model_config_dict(model_config) -> dict:
  """The model config with every UNet field filled in (so configs written before a field
  existed compare equal to ones that spell out its default)."""
  fields = {k: f.default for k, f in UNet.__dataclass_fields__.items()
            if k not in _NOT_CONFIG_FIELDS}
  return {'name': 'unet', **fields, **dict(model_config)}


def create_model(model_config, dtype: str = 'float32') -> UNet:
  """Builds the U-Net from `config.model` (an ml_collections.ConfigDict or a plain dict) that
  computes in `dtype` (config.dtype: 'float32' or 'bfloat16')."""
  if dtype not in COMPUTE_DTYPES:
    raise ValueError(f'config.dtype={dtype!r}: expected one of '
                     f'{", ".join(map(repr, COMPUTE_DTYPES))}')
  cfg = dict(model_config)
  name = cfg.pop('name', 'unet')
  if name != 'unet':
    raise ValueError(f"config.model.name={name!r}: expected 'unet'")
  fields = set(UNet.__dataclass_fields__) - _NOT_CONFIG_FIELDS
  unknown = sorted(set(cfg) - fields)
  if unknown:
    raise ValueError(f'config.model has unknown keys {unknown}; expected a subset of {sorted(fields)}')
  if cfg.get('depth', 1) < 1 or cfg.get('base_filters', 1) < 1:
    raise ValueError(f'config.model.depth and base_filters must be >= 1, got {cfg}')
  encoder = cfg.get('encoder', 'unet')
  if encoder not in ENCODER_MAX_DEPTH:
    raise ValueError(f'config.model.encoder={encoder!r}: expected one of '
                     f'{", ".join(map(repr, ENCODER_MAX_DEPTH))}')
  depth, max_depth = cfg.get('depth', 5), ENCODER_MAX_DEPTH[encoder]
  if max_depth and not 2 <= depth <= max_depth:
    raise ValueError(f'config.model.depth={depth}: the {encoder} encoder has 2..{max_depth} levels')
  decoder = cfg.get('decoder', 'unet')
  if decoder not in DECODERS:
    raise ValueError(f'config.model.decoder={decoder!r}: expected one of '
                     f'{", ".join(map(repr, DECODERS))}')
  if decoder == 'mediapipe_selfie' and (encoder != 'mediapipe_selfie' or depth != 5):
    raise ValueError(f"config.model.decoder='mediapipe_selfie' needs "
                     f"encoder='mediapipe_selfie' and depth=5 (the whole network), got "
                     f'encoder={encoder!r}, depth={depth}')
  side = cfg.get('side_encoder', 'none')
  if side not in SIDE_ENCODERS:
    raise ValueError(f'config.model.side_encoder={side!r}: expected one of '
                     f'{", ".join(map(repr, SIDE_ENCODERS))}')
  if side != 'none' and decoder != 'mediapipe_selfie':
    raise ValueError(f"config.model.side_encoder={side!r} needs decoder='mediapipe_selfie', "
                     f'got decoder={decoder!r}')
  if cfg.get('side_downsample', 2) not in SIDE_DOWNSAMPLES:
    raise ValueError(f"config.model.side_downsample={cfg['side_downsample']!r}: expected one of "
                     f'{", ".join(map(str, SIDE_DOWNSAMPLES))}')
  return UNet(**cfg, dtype=COMPUTE_DTYPES[dtype])


def pretrained_params(model: UNet, source: str = 'default') -> dict | None:
  """{'encoder': pretrained params} for the layers `model` uses (None for 'unet'), and
  {'decoder': ...} too for the whole MediaPipe selfie network, and {'side_encoder': ...} for its
  VGG19 side encoder (`source` names the encoder's weights; the side encoder's are the default).

  Each subtree matches the one of `model.init(...)['params']` exactly.
  """
  if model.encoder == 'mediapipe_selfie':
    params = (mediapipe_selfie.load_params(verbose=False) if source == 'default'
              else mediapipe_selfie.params_from_tflite(source))
    if model.decoder != 'mediapipe_selfie':
      return {'encoder': params['encoder']}
    if model.side_encoder == 'vgg19':
      deepest = list(side_vgg19_layers(model.side_downsample).values())[-1]
      params = {**params, 'side_encoder': _vgg19_params('default', deepest)}
    return params
  if model.encoder == 'efficientnet_lite0':
    params = efficientnet.load_params(source, verbose=False)
    return {'encoder': efficientnet.feature_params(params, model.depth - 1)}
  if model.encoder != 'vgg19':
    return None
  return {'encoder': _vgg19_params(source, VGG19_LEVEL_LAYERS[model.depth - 1])}


def _vgg19_params(source: str, deepest: str) -> dict:
  """The ImageNet VGG19 params of the layers up to `deepest`."""
  from nst_flax import weights  # pylint: disable=g-import-not-at-top
  params = weights.load_vgg19_params(source, verbose=False)
  used = set(vgg.LAYERS[:vgg.layer_index(deepest) + 1]) | {'input_norm'}
  return {k: v for k, v in params.items() if k in used}


def param_count(params) -> int:
  return int(sum(np.prod(p.shape) for p in jax.tree_util.tree_leaves(params)))
