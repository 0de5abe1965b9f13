"""Orbax checkpoints of a training workdir.

Layout of a workdir:
  config.json        the run's full config (written once; a resumed run must match its model)
  checkpoints/<step> the last `keep_checkpoints` train states (params + optimizer), for resuming,
                     each with the training loader's iterator state (`loader/`, one JSON file per
                     JAX process, written by Grain's orbax handler)
  best/<step>        the inference variables of the best evaluation by validation IoU, with the
                     model config and metrics as JSON, so `load_best` needs nothing else

Saves are atomic (orbax writes a temporary directory and renames it when complete), so a process
killed at any moment, also during a save, leaves only complete checkpoints behind; leftover
temporary directories are removed when the managers open.
"""
from __future__ import annotations

import json
import os
from typing import Any

import orbax.checkpoint as ocp

from unet_flax import models

CHECKPOINTS_DIR = 'checkpoints'
BEST_DIR = 'best'
CONFIG_FILE = 'config.json'


def _async_saves() -> bool:
  """Saves run in the background on one process only. On several processes the two managers'
  background saves raced in orbax 0.12.8 (the primary host validated a checkpoint before the
  other process's array metadata was written, or a final save hung), so they are synchronous."""
  import jax  # pylint: disable=g-import-not-at-top
  return jax.process_count() == 1


def train_manager(workdir: str, keep: int) -> ocp.CheckpointManager:
  options = ocp.CheckpointManagerOptions(
      max_to_keep=keep, create=True, cleanup_tmp_directories=True,
      enable_async_checkpointing=_async_saves())
  return ocp.CheckpointManager(
      os.path.join(os.path.abspath(workdir), CHECKPOINTS_DIR), options=options,
      item_names=('state', 'loader'))


def has_loader_state(manager: ocp.CheckpointManager, step: int) -> bool:
  """Whether checkpoint `step` holds this process's loader state (not in checkpoints written
  before the loader's state was saved, nor for another number of processes)."""
  import jax  # pylint: disable=g-import-not-at-top
  name = f'process_{jax.process_index()}-of-{jax.process_count()}.json'
  return (manager.directory / str(step) / 'loader' / name).exists()


def best_manager(workdir: str, read_only: bool = False) -> ocp.CheckpointManager:
  options = ocp.CheckpointManagerOptions(
      max_to_keep=1, best_fn=lambda metrics: metrics['iou'], best_mode='max',
      keep_checkpoints_without_metrics=False, create=not read_only,
      cleanup_tmp_directories=not read_only, read_only=read_only,
      enable_async_checkpointing=_async_saves())
  return ocp.CheckpointManager(
      os.path.join(os.path.abspath(workdir), BEST_DIR), options=options,
      item_names=('variables', 'metadata'))


def save_best(manager: ocp.CheckpointManager, step: int, variables: Any,
              metadata: dict, metrics: dict[str, float]) -> None:
  """Offers an evaluated model to the best-checkpoint manager (it keeps the highest IoU)."""
  manager.save(step, metrics=metrics, args=ocp.args.Composite(
      variables=ocp.args.StandardSave(variables),
      metadata=ocp.args.JsonSave(metadata)))


def load_best(workdir: str) -> tuple[dict, dict]:
  """Returns (variables, metadata) of the best checkpoint in a training workdir.

  `metadata['model']` is the model config the variables belong to. Raises ValueError naming the
  directory when there is no complete best checkpoint.
  """
  path = os.path.join(os.path.abspath(workdir), BEST_DIR)
  if not os.path.isdir(path):
    raise ValueError(f'{workdir}: no {BEST_DIR}/ checkpoint directory; expected the --workdir of '
                     'a finished `python train.py` run')
  manager = best_manager(workdir, read_only=True)
  step = manager.best_step()
  if step is None:
    step = manager.latest_step()
  if step is None:
    raise ValueError(f'{path}: holds no complete checkpoint; train (or resume) the run first')
  restored = manager.restore(step, args=ocp.args.Composite(
      variables=ocp.args.StandardRestore(), metadata=ocp.args.JsonRestore()))
  manager.close()
  return dict(restored['variables']), dict(restored['metadata'])


def write_or_check_config(workdir: str, config_dict: dict, write: bool = True) -> None:
  """Writes config.json on the first run; on a resumed run, checks the model is the same one.
  `write`: False on processes other than 0, which only check."""
  path = os.path.join(workdir, CONFIG_FILE)
  if os.path.exists(path):
    with open(path) as f:
      previous = json.load(f)
    if (models.model_config_dict(previous.get('model', {})) !=
        models.model_config_dict(config_dict.get('model', {}))):
      raise ValueError(
          f'{path}: this workdir was trained with model {previous.get("model")}, but the config '
          f'asks for model {config_dict.get("model")}; use a new --workdir or the same config')
    keeps_average = [bool(c.get('optimizer', {}).get('ema_decay', 0.0))
                     for c in (previous, config_dict)]
    if keeps_average[0] != keeps_average[1]:
      raise ValueError(
          f'{path}: this workdir was trained with optimizer.ema_decay '
          f'{"> 0" if keeps_average[0] else "= 0"}; its checkpoints '
          f'{"hold" if keeps_average[0] else "lack"} the parameter average, so resume it with '
          'the same setting or use a new --workdir')
  if not write:
    return
  tmp = path + '.tmp'
  with open(tmp, 'w') as f:
    json.dump(config_dict, f, indent=2, sort_keys=True)
  os.replace(tmp, path)
