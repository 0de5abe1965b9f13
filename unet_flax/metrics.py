"""Losses and person-class metrics for binary segmentation.

Metrics are built from per-image confusion counts (true/false positives/negatives at threshold
0.5), which add up across batches and devices; `summarize` turns the counts of a whole split into
IoU, Dice, pixel accuracy, precision, recall and the per-image IoU distribution.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

Array = jax.Array


def soft_dice_loss(logits: Array, masks: Array, eps: float = 1.0) -> Array:
  """1 - soft Dice per image, averaged over the batch (person probabilities vs. {0,1} masks)."""
  probs = jax.nn.sigmoid(logits)
  axes = tuple(range(1, logits.ndim))
  intersection = jnp.sum(probs * masks, axis=axes)
  total = jnp.sum(probs, axis=axes) + jnp.sum(masks, axis=axes)
  return jnp.mean(1.0 - (2.0 * intersection + eps) / (total + eps))


def segmentation_loss(logits: Array, masks: Array, bce_weight: float, dice_weight: float):
  """Weighted BCE + soft Dice. Returns (loss, {'bce': ..., 'dice': ...})."""
  bce = jnp.mean(optax.sigmoid_binary_cross_entropy(logits, masks))
  dice = soft_dice_loss(logits, masks)
  return bce_weight * bce + dice_weight * dice, {'bce': bce, 'dice': dice}


def confusion_counts(logits: Array, masks: Array) -> dict[str, Array]:
  """Per-image pixel counts of tp/fp/fn/tn for the person class at probability 0.5."""
  pred = logits[..., 0] > 0.0
  true = masks[..., 0] > 0.5
  axes = tuple(range(1, pred.ndim))
  count = lambda x: jnp.sum(x, axis=axes, dtype=jnp.float32)
  return {'tp': count(pred & true), 'fp': count(pred & ~true),
          'fn': count(~pred & true), 'tn': count(~pred & ~true)}


def summarize(counts: dict[str, np.ndarray]) -> tuple[dict[str, float], np.ndarray]:
  """Split-level metrics and the per-image IoUs, from per-image counts (each [num_images]).

  IoU and Dice pool all pixels of the split. The per-image IoU of an image where neither the
  truth nor the prediction has any person pixel is 1 (a correct empty mask).
  `empty_image_foreground` is the mean share of pixels predicted person on the images that have
  no person (the negatives; 0 when there are none).
  """
  tp, fp, fn, tn = (np.asarray(counts[k], np.float64) for k in ('tp', 'fp', 'fn', 'tn'))
  TP, FP, FN, TN = tp.sum(), fp.sum(), fn.sum(), tn.sum()
  safe = lambda a, b: float(a / b) if b > 0 else 1.0
  union = tp + fp + fn
  per_image_iou = np.where(union > 0, tp / np.maximum(union, 1), 1.0)
  empty = (tp + fn) == 0  # images without any person: what share of them is called person
  empty_foreground = float(np.mean(fp[empty] / np.maximum(fp + tn, 1)[empty])) if empty.any() else 0.0
  return {
      'iou': safe(TP, TP + FP + FN),
      'dice': safe(2 * TP, 2 * TP + FP + FN),
      'pixel_accuracy': safe(TP + TN, TP + TN + FP + FN),
      'precision': safe(TP, TP + FP),
      'recall': safe(TP, TP + FN),
      'per_image_iou_mean': float(per_image_iou.mean()),
      'per_image_iou_p10': float(np.percentile(per_image_iou, 10)),
      'per_image_iou_median': float(np.median(per_image_iou)),
      'per_image_iou_p90': float(np.percentile(per_image_iou, 90)),
      'empty_image_foreground': empty_foreground,
      'num_empty_images': int(empty.sum()),
      'num_images': int(tp.size),
  }, per_image_iou
