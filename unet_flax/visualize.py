"""Pictures people look at: a grid of image | true mask | predicted mask (with an overlay)."""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np
from PIL import Image


def _rgb(x: np.ndarray) -> np.ndarray:
  x = np.asarray(x, np.float32)
  if x.ndim == 2:
    x = x[..., None]
  if x.shape[-1] == 1:
    x = np.repeat(x, 3, axis=-1)
  return (np.clip(x, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def overlay(image: np.ndarray, mask: np.ndarray, color=(1.0, 0.15, 0.15), alpha=0.5) -> np.ndarray:
  """The image with the mask's region tinted (mask in [0,1], [H,W] or [H,W,1])."""
  m = np.asarray(mask, np.float32).reshape(image.shape[:2] + (1,))
  return image * (1 - alpha * m) + alpha * m * np.asarray(color, np.float32)


def mask_grid(rows: Sequence[tuple[np.ndarray, np.ndarray | None, np.ndarray]],
              pad: int = 2) -> np.ndarray:
  """uint8 grid; one row per (image, true mask or None, predicted probability).

  Columns: image | true mask | predicted probability | prediction (>0.5) over the image.
  """
  tiles = []
  for image, true, prob in rows:
    image = np.asarray(image, np.float32)
    prob = np.asarray(prob, np.float32).reshape(image.shape[:2])
    cols = [image] + ([true] if true is not None else []) + [prob, overlay(image, prob > 0.5)]
    tiles.append([_rgb(c) for c in cols])
  h = max(t[0].shape[0] for t in tiles)
  w = max(t[0].shape[1] for t in tiles)
  ncols = max(len(t) for t in tiles)
  grid = np.full((len(tiles) * (h + pad) + pad, ncols * (w + pad) + pad, 3), 255, np.uint8)
  for r, row in enumerate(tiles):
    for c, tile in enumerate(row):
      y, x = pad + r * (h + pad), pad + c * (w + pad)
      grid[y:y + tile.shape[0], x:x + tile.shape[1]] = tile
  return grid


def save_mask_grid(path: str, rows) -> None:
  os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
  Image.fromarray(mask_grid(rows)).save(path)
