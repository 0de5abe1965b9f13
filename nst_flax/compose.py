"""Person-preserving composition: `out = m * content + (1 - m) * stylized`.

A pure, jit-able, batched function of the photo, its stylized version and the person mask m.
Options: a hard threshold (m > t) and a feathered edge (the mask blurred with a Gaussian whose
full width at half maximum is `feather` pixels), applied in that order, so that a hard mask can
still get a soft border.
"""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp


def _gaussian_kernel(feather: float) -> jax.Array:
  sigma = feather / 2.3548  # FWHM -> standard deviation
  radius = max(1, math.ceil(3 * sigma))
  x = jnp.arange(-radius, radius + 1, dtype=jnp.float32)
  k = jnp.exp(-0.5 * (x / sigma)**2)
  return k / jnp.sum(k)


def feather_mask(mask: jax.Array, feather: float) -> jax.Array:
  """Blurs [..., H, W, 1] masks with a separable Gaussian (edge-padded, so flat masks stay flat)."""
  if feather <= 0:
    return mask
  k = _gaussian_kernel(feather)
  r = (k.shape[0] - 1) // 2
  lead = mask.shape[:-3]
  m = mask.reshape((-1,) + mask.shape[-3:])
  m = jnp.pad(m, ((0, 0), (r, r), (r, r), (0, 0)), mode='edge')
  conv = lambda x, kernel: jax.lax.conv_general_dilated(
      x, kernel, (1, 1), 'VALID', dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
  m = conv(m, k.reshape(-1, 1, 1, 1))
  m = conv(m, k.reshape(1, -1, 1, 1))
  return jnp.clip(m, 0.0, 1.0).reshape(lead + mask.shape[-3:])


@functools.partial(jax.jit, static_argnames=('feather', 'threshold'))
def compose(content: jax.Array, stylized: jax.Array, mask: jax.Array, *, feather: float = 0.0,
            threshold: float | None = None) -> jax.Array:
  """Keeps the people (mask 1) from `content` and the rest from `stylized`.

  Args:
    content, stylized: images [..., H, W, C] (any float dtype, same shape).
    mask: person mask [..., H, W, 1] or [..., H, W] in [0, 1] (1 = person).
    feather: soft-edge width in pixels (0: none).
    threshold: if set, the mask becomes (mask > threshold) before feathering.

  Returns:
    `m * content + (1 - m) * stylized` in the dtype of `content`.
  """
  if content.shape != stylized.shape:
    raise ValueError(f'content {content.shape} and stylized {stylized.shape} differ in shape')
  if mask.ndim == content.ndim - 1:
    mask = mask[..., None]
  if mask.shape[:-1] != content.shape[:-1] or mask.shape[-1] != 1:
    raise ValueError(f'mask {mask.shape} does not match images {content.shape}; expected '
                     f'{content.shape[:-1] + (1,)}')
  m = mask.astype(jnp.float32)
  if threshold is not None:
    m = (m > threshold).astype(jnp.float32)
  m = feather_mask(m, feather)
  out = m * content.astype(jnp.float32) + (1.0 - m) * stylized.astype(jnp.float32)
  return out.astype(content.dtype)
