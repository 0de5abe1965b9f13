"""Gatys et al. losses, normalised so that a weight means the same at 256 and 1024 pixels.

  content: mean over elements of (F - F_c)^2, per layer, weighted.
  style:   Gram G = F^T F / (positions * channels) (an average over positions, so independent of
           the image size); per layer mean over the C x C entries of (G - G_s)^2, weighted.
  guided:  Gatys et al. 2017 spatial control: features multiplied by a [0, 1] mask resized to the
           layer, Gram normalised by the mask's sum instead of the number of positions.
  tv:      mean of squared differences of neighbouring pixels (image in [0, 1]).
  padded:  with `valid` masks (1 on the image's real pixels, 0 on padding) every mean runs over
           the real pixels only, so a padded image scores as the unpadded one does.
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional, Sequence

import jax
import jax.numpy as jnp

__all__ = ['gram', 'content_loss', 'style_loss', 'tv_loss', 'resize_mask', 'STYLE_PRESETS',
           'DEFAULT_STYLE_LAYERS']

DEFAULT_STYLE_LAYERS = ('block1_conv1', 'block2_conv1', 'block3_conv1', 'block4_conv1',
                        'block5_conv1')

# Named style presets: (style layers, per-layer weights, multiplier of config.style_weight).
# "content" keeps more of the photo (smaller, finer-grained style term), "style" paints harder
# (more weight on the deeper layers that carry larger brush strokes).
STYLE_PRESETS = {
    'content': (DEFAULT_STYLE_LAYERS, (1.0, 1.0, 1.0, 0.5, 0.25), 0.3),
    'balanced': (DEFAULT_STYLE_LAYERS, (1.0, 1.0, 1.0, 1.0, 1.0), 1.0),
    'style': (DEFAULT_STYLE_LAYERS, (0.5, 1.0, 1.5, 2.0, 2.0), 3.0),
}


@jax.custom_vjp
def _gram_sum(fm):
  """F^T F [N, C, C] of position-major features F [N, P, C]."""
  return jnp.einsum('npc,npd->ncd', fm, fm, preferred_element_type=jnp.float32)


def _gram_sum_fwd(fm):
  return _gram_sum(fm), fm


def _gram_sum_bwd(fm, dg):
  # d(F^T F) = F (dG + dG^T): one [P, C] x [C, C] product in F's own layout. Autodiff gives
  # two products whose results come out channel-major ([C, P]) and are transposed back; on
  # XLA:CPU a 512-px loss-and-gradient evaluation took 1379 ms with them, 1111 ms with this
  # (benchmarks/README.md).
  sym = (dg + jnp.swapaxes(dg, 1, 2)).astype(fm.dtype)
  return (jnp.einsum('npc,ncd->npd', fm, sym),)


_gram_sum.defvjp(_gram_sum_fwd, _gram_sum_bwd)


def gram(f, mask=None, eps: float = 1e-6):
  """Gram matrix [N, C, C] of features [N, H, W, C], averaged over positions and channels.

  With `mask` ([N, H, W, 1] in [0, 1]) the features are weighted by it and the Gram is
  normalised by the mask's sum (guided Gram matrices).
  """
  n, h, w, c = f.shape
  if mask is None:
    fm = f.reshape(n, h * w, c)
    denom = float(h * w * c)
  else:
    fm = (f * mask).reshape(n, h * w, c)
    denom = (jnp.sum(mask, axis=(1, 2, 3)) + eps)[:, None, None] * c
  return _gram_sum(fm) / denom


def resize_mask(mask, hw):
  """[N, H, W, 1] mask -> [N, h, w, 1] (area-like antialiased resize)."""
  n, _, _, c = mask.shape
  return jax.image.resize(mask, (n, hw[0], hw[1], c), method='linear', antialias=True)


def _masked_mean(sq, valid):
  """Mean of `sq` [N, H, W, C] over the pixels where `valid` [N, H, W, 1] is 1."""
  if valid is None:
    return jnp.mean(sq)
  return jnp.sum(sq * valid) / (jnp.sum(valid) * sq.shape[-1])


def content_loss(feats: Mapping, targets: Mapping, layer_weights: Mapping[str, float],
                 valid: Optional[Mapping] = None):
  total = 0.0
  for name, w in layer_weights.items():
    v = None if valid is None else valid[name]
    total = total + w * _masked_mean(jnp.square(feats[name] - targets[name]), v)
  return total


def style_loss(feats: Mapping, target_grams: Mapping, layer_weights: Mapping[str, float],
               masks: Optional[Mapping] = None):
  total = 0.0
  for name, w in layer_weights.items():
    m = None if masks is None else masks[name]
    g = gram(feats[name], m)
    total = total + w * jnp.mean(jnp.square(g - target_grams[name]))
  return total


def tv_loss(x, valid=None):
  """x: [N, H, W, C] in [0, 1]; valid: optional [N, H, W, 1] real-pixel mask."""
  dy = x[:, 1:, :, :] - x[:, :-1, :, :]
  dx = x[:, :, 1:, :] - x[:, :, :-1, :]
  if valid is None:
    return jnp.mean(jnp.square(dy)) + jnp.mean(jnp.square(dx))
  vy = valid[:, 1:] * valid[:, :-1]  # pairs of real pixels only
  vx = valid[:, :, 1:] * valid[:, :, :-1]
  return _masked_mean(jnp.square(dy), vy) + _masked_mean(jnp.square(dx), vx)


def resolve_style_layers(preset: str, layers: Sequence[str] = (),
                         layer_weights: Sequence[float] = ()):
  """(layers, per-layer weights, style-weight multiplier) from a preset name and overrides."""
  if preset not in STYLE_PRESETS:
    raise ValueError(f'unknown style preset {preset!r}; expected one of '
                     f"{', '.join(STYLE_PRESETS)}")
  p_layers, p_weights, mult = STYLE_PRESETS[preset]
  if layers:
    layers = tuple(layers)
    if layer_weights:
      if len(layer_weights) != len(layers):
        raise ValueError(f'{len(layers)} style layers but {len(layer_weights)} style '
                         f'layer weights')
      weights = tuple(float(w) for w in layer_weights)
    else:
      weights = (1.0,) * len(layers)
    return layers, weights, mult
  if layer_weights:
    if len(layer_weights) != len(p_layers):
      raise ValueError(f'preset {preset!r} has {len(p_layers)} style layers but '
                       f'{len(layer_weights)} style layer weights were given')
    p_weights = tuple(float(w) for w in layer_weights)
  return p_layers, p_weights, mult


def as_weight_dict(layers: Sequence[str], weights: Sequence[float]) -> Dict[str, float]:
  if len(layers) != len(weights):
    raise ValueError(f'{len(layers)} layers but {len(weights)} layer weights')
  return {l: float(w) for l, w in zip(layers, weights)}
