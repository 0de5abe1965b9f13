"""Colour preservation for style transfer (Gatys et al. 2016, "Preserving color in NST").

  luminance: transfer on the luminance channel only (YIQ); the result keeps the content's I/Q.
  histogram: recolour the style image so that its colour mean and covariance match the content's
             (linear colour transfer with symmetric matrix square roots), then transfer as usual.
All functions take and return numpy float32 RGB [H, W, 3] in [0, 1].
"""
from __future__ import annotations

import numpy as np

_RGB2YIQ = np.array([[0.299, 0.587, 0.114],
                     [0.59590059, -0.27455667, -0.32134392],
                     [0.21153661, -0.52273617, 0.31119955]], np.float32)
_YIQ2RGB = np.linalg.inv(_RGB2YIQ).astype(np.float32)


def rgb_to_yiq(x):
  return np.asarray(x, np.float32) @ _RGB2YIQ.T


def yiq_to_rgb(x):
  return np.asarray(x, np.float32) @ _YIQ2RGB.T


def luminance(x):
  """Y of an RGB image, [H, W]."""
  return rgb_to_yiq(x)[..., 0]


def luminance_image(x, like=None):
  """Y replicated to 3 channels; with `like`, Y's mean/std matched to `like`'s luminance."""
  y = luminance(x)
  if like is not None:
    ly = luminance(like)
    y = (y - y.mean()) / (y.std() + 1e-6) * ly.std() + ly.mean()
  return np.repeat(np.clip(y, 0.0, 1.0)[..., None], 3, axis=-1).astype(np.float32)


def combine_luminance(stylized, content):
  """Stylised luminance + content chrominance -> RGB in [0, 1]."""
  yiq = rgb_to_yiq(content)
  yiq[..., 0] = luminance(stylized)
  return np.clip(yiq_to_rgb(yiq), 0.0, 1.0).astype(np.float32)


def _sqrtm(c, inverse=False):
  vals, vecs = np.linalg.eigh(c)
  vals = np.clip(vals, 1e-8, None)
  p = -0.5 if inverse else 0.5
  return (vecs * vals ** p) @ vecs.T


def match_color_histogram(source, target):
  """Returns `source` recoloured so its RGB mean/covariance equal `target`'s."""
  s = np.asarray(source, np.float64).reshape(-1, 3)
  t = np.asarray(target, np.float64).reshape(-1, 3)
  mu_s, mu_t = s.mean(0), t.mean(0)
  cs = np.cov((s - mu_s).T) + 1e-5 * np.eye(3)
  ct = np.cov((t - mu_t).T) + 1e-5 * np.eye(3)
  a = _sqrtm(ct) @ _sqrtm(cs, inverse=True)
  out = (s - mu_s) @ a.T + mu_t
  return np.clip(out, 0.0, 1.0).reshape(np.shape(source)).astype(np.float32)
