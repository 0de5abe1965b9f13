"""Params (nested dicts of arrays) as one .npz file, and a cache of converted params built on it.

Converting released weights (dequantising, folding BatchNorms, parsing a .tflite) takes seconds;
the weight loaders of both packages keep the result next to the fetched file and read it from
there afterwards: `cached_params(npz_path, build)`.
"""
from __future__ import annotations

import os

import numpy as np

__all__ = ['save_npz', 'load_npz', 'cached_params']


def save_npz(path: str, params) -> None:
  """Nested dicts of arrays -> one .npz, keys joined with '/' ('block1_conv1/kernel')."""
  flat = {}

  def walk(prefix, d):
    for k, v in d.items():
      if isinstance(v, dict):
        walk(f'{prefix}{k}/', v)
      else:
        flat[prefix + k] = v

  walk('', params)
  tmp = path + '.part.npz'
  np.savez(tmp, **flat)
  os.replace(tmp, path)


def load_npz(path: str):
  """The nested dicts of arrays that `save_npz` wrote to `path`."""
  params = {}
  with np.load(path) as z:
    for key in z.files:
      *parents, k = key.split('/')
      d = params
      for p in parents:
        d = d.setdefault(p, {})
      d[k] = np.asarray(z[key])
  return params


def cached_params(npz_path: str, build):
  """Params from the .npz cache at `npz_path`, else `build()`, then cached there if writable."""
  if os.path.exists(npz_path):
    try:
      return load_npz(npz_path)
    except Exception:  # corrupt cache: rebuild
      os.remove(npz_path)
  params = build()
  try:
    save_npz(npz_path, params)
  except OSError:
    pass
  return params
