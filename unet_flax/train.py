"""Training and evaluation of the person-segmentation U-Net: `train_and_evaluate(config, workdir)`.

One code path for one CPU and for many accelerator cores: a 1-D `jax.make_mesh` over all devices
with a 'data' axis; the train state is replicated, every batch is split along 'data' with a
`NamedSharding`, and the steps are `jax.jit`-ted with explicit shardings (no pmap). Batches are a
pure function of (seed, step) and dropout keys are folded from the step, so a run resumed from a
checkpoint continues exactly as an uninterrupted one would.

Several processes (one per host; `jax.distributed.initialize` first, see train.py): the mesh spans
every process's devices, each process reads only its rows of every global batch and puts them in
with `jax.make_array_from_process_local_data`, orbax saves and restores across processes, and
logs, images, metrics and summaries are written by process 0 only.

Sections: setup (mesh, data, model, optimizer) | steps | evaluation | the loop.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from typing import Any

from absl import logging
import flax
from flax.training import train_state
import grain
import jax
from jax.experimental import multihost_utils
from jax.sharding import NamedSharding, PartitionSpec as P
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import orbax.checkpoint as ocp
import tqdm

from unet_flax import checkpoints
from unet_flax import input_pipeline
from unet_flax import metrics as metrics_lib
from unet_flax import models
from unet_flax import predict
from unet_flax import visualize


class TrainState(train_state.TrainState):
  batch_stats: Any = flax.struct.field(default_factory=dict)
  # Exponential moving average of `params` (None when optimizer.ema_decay is 0): what evaluation,
  # the best checkpoint and prediction use, since it varies less from step to step.
  ema_params: Any = None


# ---------------------------------------------------------------------------------------------
# Setup.
# ---------------------------------------------------------------------------------------------

def create_mesh() -> jax.sharding.Mesh:
  """A 1-D mesh over every device, axis 'data' (data parallelism).

  Auto axes: jit propagates the batch sharding through the model (the explicit-sharding mode
  would require every op, e.g. dropout's random mask, to be annotated).
  """
  return jax.make_mesh((jax.device_count(),), ('data',),
                       axis_types=(jax.sharding.AxisType.Auto,))


def validate_config(config: ml_collections.ConfigDict, num_devices: int) -> None:
  """Raises ValueError (one line, naming the key) for settings that cannot work."""
  for key in ('batch_size', 'eval_batch_size'):
    value = config[key]
    if value <= 0 or value % num_devices:
      raise ValueError(f'config.{key}={value} must be a positive multiple of the number of '
                       f'devices ({num_devices}), since each batch is split evenly across them')
  if config.num_train_steps <= 0:
    raise ValueError(f'config.num_train_steps={config.num_train_steps}: expected > 0')
  multiple = 2**(config.model.depth - 1)
  for key, value in (('image_size', config.data.image_size),
                     ('train_image_sizes', input_pipeline.train_sides(config.data))):
    if any(side % multiple for side in np.atleast_1d(value)):
      raise ValueError(f'config.data.{key}={value} must be a multiple of 2**(depth-1)={multiple} '
                       f'for config.model.depth={config.model.depth}')
  if config.optimizer.name not in ('adam', 'adamw'):
    raise ValueError(f"config.optimizer.name={config.optimizer.name!r}: expected 'adam' or 'adamw'")
  ema_decay = config.optimizer.get('ema_decay', 0.0)
  if not 0.0 <= ema_decay < 1.0:
    raise ValueError(f'config.optimizer.ema_decay={ema_decay}: expected 0 (off) or a decay in '
                     '(0, 1)')
  input_pipeline.Augmentation.from_config(config.data)
  # Unknown keys, encoder, depth, dtype: before the workdir is touched.
  models.create_model(config.model, config.get('dtype', 'float32'))
  interpolation = config.get('weight_interpolation', 1.0)
  if not 0.0 < interpolation <= 1.0:
    raise ValueError(f'config.weight_interpolation={interpolation}: expected 0 < value <= 1 '
                     '(1: the fine-tuned parameters)')
  ensemble_size = config.get('ensemble_size', 1)
  if not isinstance(ensemble_size, int) or ensemble_size < 1:
    raise ValueError(f'config.ensemble_size={ensemble_size}: expected an integer >= 1 (1: one '
                     'run)')


def check_workdir(workdir: str) -> None:
  """Fails early, naming the directory, when the workdir cannot be written."""
  try:
    os.makedirs(workdir, exist_ok=True)
    # A probe file of its own: every process of a multi-host job runs this check at once.
    with tempfile.NamedTemporaryFile(dir=workdir, prefix='.write_test'):
      pass
  except OSError as e:
    raise ValueError(f'--workdir {workdir} is not writable ({e.strerror}); expected a directory '
                     'this user can create files in') from None


def create_schedule(opt: ml_collections.ConfigDict, num_steps: int) -> optax.Schedule:
  """Linear warm-up from 0 to the peak learning rate, then cosine decay to peak * end factor."""
  return optax.warmup_cosine_decay_schedule(
      init_value=0.0, peak_value=opt.learning_rate,
      warmup_steps=min(opt.warmup_steps, max(num_steps - 1, 0)),
      decay_steps=max(num_steps, opt.warmup_steps + 1),
      end_value=opt.learning_rate * opt.end_learning_rate_factor)


def _adam(opt: ml_collections.ConfigDict, schedule) -> optax.GradientTransformation:
  if opt.name == 'adamw':
    return optax.adamw(schedule, b1=opt.b1, b2=opt.b2, weight_decay=opt.weight_decay)
  return optax.adam(schedule, b1=opt.b1, b2=opt.b2)


def create_optimizer(opt: ml_collections.ConfigDict, num_steps: int,
                     pretrained_encoder: bool = False) -> optax.GradientTransformation:
  """Adam(W) with linear warm-up then cosine decay, optional global-norm clipping.

  With a pretrained encoder, its parameters get their own transform (optax.multi_transform):
  frozen (learning rate 0) for `encoder_frozen_steps`, then the same schedule scaled by
  `encoder_lr_factor`. A side encoder's parameters (params['side_encoder']) never change.
  """
  schedule = create_schedule(opt, num_steps)
  tx = _adam(opt, schedule)
  if pretrained_encoder:
    frozen, factor = opt.encoder_frozen_steps, opt.encoder_lr_factor
    encoder_schedule = lambda step: jnp.where(step < frozen, 0.0, factor * schedule(step))
    labels = {'encoder': 'encoder', 'side_encoder': 'side_encoder'}
    tx = optax.multi_transform(
        {'decoder': tx, 'encoder': _adam(opt, encoder_schedule),
         'side_encoder': optax.set_to_zero()},
        lambda params: {k: jax.tree.map(lambda _: labels.get(k, 'decoder'), v)
                        for k, v in params.items()})
  if opt.grad_clip_norm:
    tx = optax.chain(optax.clip_by_global_norm(opt.grad_clip_norm), tx)
  return tx


def create_train_state(model: models.UNet, tx: optax.GradientTransformation, key: jax.Array,
                       image_size: int, pretrained: dict | None = None,
                       ema: bool = False) -> TrainState:
  """Fresh state; `pretrained` subtrees (e.g. {'encoder': VGG19 params}) replace the random init.
  `ema`: keep an exponential moving average of the parameters (starting at the initial ones)."""
  variables = model.init(key, jnp.zeros((1, image_size, image_size, 3), jnp.float32), train=False)
  params = {**variables['params'], **(pretrained or {})}
  return TrainState.create(apply_fn=model.apply, params=params, tx=tx,
                           batch_stats=variables.get('batch_stats', {}),
                           ema_params=jax.tree.map(jnp.copy, params) if ema else None)


def update_ema(ema_params, params, step: jax.Array, decay: float):
  """One step of the parameter average. The effective decay min(decay, (1 + t) / (10 + t)) lets
  the average forget the random initialisation early in training."""
  rate = jnp.minimum(decay, (1.0 + step) / (10.0 + step))
  return jax.tree.map(lambda e, p: rate * e + (1.0 - rate) * p, ema_params, params)


def interpolate_weights(pretrained: dict, params: dict, alpha: float) -> dict:
  """`params` with each pretrained subtree replaced by (1 - alpha) * pretrained + alpha * params:
  weight-space ensembling of a fine-tuned network with its initialisation (WiSE-FT, Wortsman et
  al. 2022), which keeps more of the pretrained network's robustness to photos unlike the
  training data. alpha = 1: `params` unchanged."""
  if alpha == 1.0 or not pretrained:
    return params
  mixed = {k: jax.tree.map(lambda p0, p1: (1.0 - alpha) * p0 + alpha * p1, pretrained[k], params[k])
           for k in pretrained}
  return {**params, **mixed}


def inference_variables(state: TrainState, pretrained: dict | None = None,
                        alpha: float = 1.0) -> dict:
  """The variables evaluation and prediction use: the parameter average when there is one,
  interpolated towards `pretrained` by `alpha` (`interpolate_weights`)."""
  params = state.params if state.ema_params is None else state.ema_params
  variables = {'params': interpolate_weights(pretrained, params, alpha)}
  if state.batch_stats:
    variables['batch_stats'] = state.batch_stats
  return variables


# ---------------------------------------------------------------------------------------------
# Steps.
# ---------------------------------------------------------------------------------------------

def make_train_step(model: models.UNet, loss_config: ml_collections.ConfigDict, dropout_key,
                    freeze_encoder: bool = False, ema_decay: float = 0.0):
  """Returns train_step(state, batch) -> (state, metrics).

  `freeze_encoder`: no gradient flows into params['encoder'], so no backward pass through the
  (pretrained) encoder is computed at all. `ema_decay` > 0: updates state.ema_params.
  """

  def train_step(state: TrainState, batch: dict) -> tuple[TrainState, dict]:
    key = jax.random.fold_in(dropout_key, state.step)

    def loss_fn(params):
      if freeze_encoder:
        params = {**params, 'encoder': jax.lax.stop_gradient(params['encoder'])}
      variables = {'params': params}
      if state.batch_stats:
        variables['batch_stats'] = state.batch_stats
      logits, updates = model.apply(variables, batch['image'], train=True,
                                    rngs={'dropout': key}, mutable=['batch_stats'])
      loss, terms = metrics_lib.segmentation_loss(
          logits, batch['mask'], loss_config.bce_weight, loss_config.dice_weight)
      return loss, (terms, updates)

    (loss, (terms, updates)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    step = state.step
    state = state.apply_gradients(grads=grads,
                                  batch_stats=updates.get('batch_stats', state.batch_stats))
    if ema_decay:
      state = state.replace(ema_params=update_ema(state.ema_params, state.params, step, ema_decay))
    return state, {'loss': loss, **terms, 'grad_norm': optax.tree.norm(grads)}

  return train_step


def make_eval_step(model: models.UNet, ensemble: bool = False):
  """Returns eval_step(variables, batch) -> (per-image confusion counts, probabilities).
  `ensemble`: variables stacked over members, their probabilities averaged."""

  def eval_step(variables: dict, batch: dict):
    if ensemble:
      probs = predict.ensemble_probability(model, variables, batch['image'], ensemble=True)
      logits = jnp.log(probs) - jnp.log1p(-probs)  # the counts threshold logits at 0 (p = 0.5)
    else:
      logits = model.apply(variables, batch['image'], train=False)
      probs = jax.nn.sigmoid(logits)
    return metrics_lib.confusion_counts(logits, batch['mask']), probs

  return eval_step


def jit_eval_step(model: models.UNet, replicated: NamedSharding, data_sharding: NamedSharding,
                  ensemble: bool = False):
  """`make_eval_step`, jitted: variables replicated, batches and outputs split along 'data'."""
  return jax.jit(make_eval_step(model, ensemble), in_shardings=(replicated, data_sharding),
                 out_shardings=(data_sharding, data_sharding))


def put_batch(batch: dict, sharding: NamedSharding) -> dict:
  """This process's rows of a batch (numpy) -> global jax.Array split along the mesh's 'data'
  axis."""
  return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, x), batch)


def check_process_rows(sharding: NamedSharding, batch_size: int) -> None:
  """The loader gives process p rows [p*B/P, (p+1)*B/P) of each global batch (Grain's sharding
  by JAX process); raises ValueError unless those are the rows this process's devices hold."""
  rows = sorted((s[0].start or 0, s[0].stop or batch_size)
                for s in sharding.addressable_devices_indices_map((batch_size,)).values())
  local = batch_size // jax.process_count()
  expected = (jax.process_index() * local, (jax.process_index() + 1) * local)
  if (rows[0][0], rows[-1][1]) != expected:
    raise ValueError(f'process {jax.process_index()} holds rows {rows[0][0]}..{rows[-1][1]} of '
                     f'the batch on the mesh; expected {expected[0]}..{expected[1]} (the mesh '
                     'must list each process\'s devices together, in process order)')


def host_rows(x) -> np.ndarray:
  """All rows of a batch-sharded array (jax, or this process's rows as numpy) on every host."""
  if jax.process_count() == 1:
    return np.asarray(x)
  return np.asarray(multihost_utils.process_allgather(x, tiled=True))


def _host_strings(x: np.ndarray) -> np.ndarray:
  """host_rows for this process's rows of a string column (as codes: strings cannot cross)."""
  if jax.process_count() == 1:
    return x
  vocabulary = np.array(input_pipeline.LABEL_SOURCES)
  codes = np.searchsorted(vocabulary, x).clip(0, len(vocabulary) - 1).astype(np.int32)
  unknown = sorted(set(x[vocabulary[codes] != x].tolist()))
  if unknown:
    raise ValueError(f'label_source {unknown[0]!r}: expected one of {input_pipeline.LABEL_SOURCES}')
  return vocabulary[host_rows(codes)]


# ---------------------------------------------------------------------------------------------
# Evaluation.
# ---------------------------------------------------------------------------------------------

def evaluate(eval_step, variables, split, config, data_sharding, workdir: str | None = None,
             step: int = 0) -> tuple[dict, np.ndarray]:
  """One pass over the evaluation split: metrics, per-image IoUs, and (optionally) a PNG grid.

  When the split mixes ground truth and pseudo-labels, the IoU and Dice of each kind are reported
  too (`gt_iou`, `pseudo_iou`, ...), so a score against ground truth alone is always there.
  """
  counts = {k: [] for k in ('tp', 'fp', 'fn', 'tn')}
  sources, grid_rows = [], []
  for batch in input_pipeline.eval_batches(split, config.eval_batch_size, config.data.image_size,
                                           jax.process_index(), jax.process_count()):
    valid = host_rows(batch.pop('valid'))
    sources.append(_host_strings(batch.pop('label_source'))[valid])
    batch_counts, probs = eval_step(variables, put_batch(batch, data_sharding))
    for k, v in batch_counts.items():
      counts[k].append(host_rows(v)[valid])
    if len(grid_rows) < config.num_eval_images:
      images, masks, probs = (host_rows(x) for x in (batch['image'], batch['mask'], probs))
      for i in np.flatnonzero(valid)[:config.num_eval_images - len(grid_rows)]:
        grid_rows.append((images[i], masks[i], probs[i]))
  counts = {k: np.concatenate(v) for k, v in counts.items()}
  summary, per_image_iou = metrics_lib.summarize(counts)
  sources = np.concatenate(sources)
  if len(set(sources.tolist())) > 1:
    for source in sorted(set(sources.tolist())):
      part, _ = metrics_lib.summarize({k: v[sources == source] for k, v in counts.items()})
      keys = ['num_images', 'empty_image_foreground']
      if part['num_images'] > part['num_empty_images']:  # IoU/Dice need some person pixels
        keys += ['iou', 'dice']
      summary.update({f'{source}_{k}': part[k] for k in keys})
  if workdir is not None and grid_rows and jax.process_index() == 0:
    visualize.save_mask_grid(os.path.join(workdir, 'eval', f'step_{step:06d}.png'), grid_rows)
  return summary, per_image_iou


# ---------------------------------------------------------------------------------------------
# The loop.
# ---------------------------------------------------------------------------------------------

def write_summary(workdir: str, summary: dict) -> None:
  """`summary.json` of a run (process 0 only)."""
  if jax.process_index() == 0:
    with open(os.path.join(workdir, 'summary.json'), 'w') as f:
      json.dump(summary, f, indent=2)


def _append_jsonl(path: str, record: dict) -> None:
  if jax.process_index() == 0:
    with open(path, 'a') as f:
      f.write(json.dumps(record) + '\n')


class _NoWriter:
  """The summary writer of processes other than 0: writes nothing."""

  def __getattr__(self, name):
    return lambda *args, **kwargs: None


def _flops(compiled) -> float | None:
  """FLOPs of one compiled call, from XLA's cost analysis (None where the backend has none)."""
  try:
    analysis = compiled.cost_analysis()
  except Exception:  # Some backends do not implement it.
    return None
  if isinstance(analysis, (list, tuple)):
    analysis = analysis[0] if analysis else {}
  flops = (analysis or {}).get('flops')
  return float(flops) if flops is not None else None


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains (or resumes) the U-Net described by `config`, evaluating every N steps.

  Writes TensorBoard events, `metrics.jsonl`, PNG grids under `eval/`, checkpoints under
  `checkpoints/` and `best/`, and returns (and writes to `summary.json`) the final summary.
  With `config.ensemble_size` > 1, `train_ensemble` instead.
  """
  if config.get('ensemble_size', 1) != 1:
    return train_ensemble(config, workdir)
  # -- Setup ----------------------------------------------------------------------------------
  mesh = create_mesh()
  validate_config(config, mesh.size)
  check_workdir(workdir)
  checkpoints.write_or_check_config(workdir, config.to_dict(), write=jax.process_index() == 0)
  replicated = NamedSharding(mesh, P())
  data_sharding = NamedSharding(mesh, P('data'))
  check_process_rows(data_sharding, config.batch_size)
  logging.info('Devices: %d x %s in %d processes; mesh %s', mesh.size, jax.devices()[0].platform,
               jax.process_count(), dict(mesh.shape))

  train_split, eval_split = input_pipeline.get_splits(config.data)
  logging.info('Data: %s, %d train / %d eval examples', config.data.name, len(train_split),
               len(eval_split))

  model = models.create_model(config.model, config.get('dtype', 'float32'))
  pretrained = models.pretrained_params(model)
  tx = create_optimizer(config.optimizer, config.num_train_steps, pretrained is not None)
  schedule = create_schedule(config.optimizer, config.num_train_steps)
  frozen_steps = config.optimizer.encoder_frozen_steps if pretrained is not None else 0
  interpolation = float(config.get('weight_interpolation', 1.0))
  root_key = jax.random.key(config.seed)
  init_key, dropout_key = jax.random.split(root_key)
  ema_decay = config.optimizer.get('ema_decay', 0.0)
  state = jax.jit(create_train_state, static_argnums=(0, 1, 3, 5), out_shardings=replicated)(
      model, tx, init_key, config.data.image_size, pretrained, bool(ema_decay))
  num_params = models.param_count(state.params)
  logging.info('Model: %s, %s parameters', dict(config.model), f'{num_params:,}')

  train_ckpt = checkpoints.train_manager(workdir, config.keep_checkpoints)
  best_ckpt = checkpoints.best_manager(workdir)
  start_step = train_ckpt.latest_step() or 0
  train_sides = input_pipeline.train_sides(config.data)
  # Grain's sharding by JAX process: this process reads only its rows of every global batch.
  shard = grain.sharding.ShardByJaxProcess()
  batches = input_pipeline.train_batches(
      train_split, start_step, config.batch_size, train_sides, config.seed,
      input_pipeline.Augmentation.from_config(config.data), config.data.get('worker_count', 0),
      shard.shard_index, shard.shard_count)
  if start_step:
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, state)
    state = train_ckpt.restore(start_step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(abstract)))['state']
    if checkpoints.has_loader_state(train_ckpt, start_step):
      train_ckpt.restore(start_step, args=ocp.args.Composite(
          loader=grain.checkpoint.CheckpointRestore(batches)))
      if batches.step != start_step:
        raise ValueError(f'{train_ckpt.directory}/{start_step}/loader: the loader state is at '
                         f'step {batches.step}; expected {start_step}, the train state\'s step')
    else:  # Saved before the loader's state was, or by another number of processes.
      logging.info('No loader state for this process in checkpoint %d: the loader starts at its '
                   'step', start_step)
    logging.info('Resumed from %s at step %d', train_ckpt.directory, start_step)

  # -- Steps ----------------------------------------------------------------------------------
  def jit_train_step(freeze_encoder: bool):
    return jax.jit(
        make_train_step(model, config.loss, dropout_key, freeze_encoder, ema_decay),
        in_shardings=(replicated, data_sharding), out_shardings=(replicated, replicated),
        donate_argnums=(0,))
  eval_step = jit_eval_step(model, replicated, data_sharding)

  # Imported here: flax's SummaryWriter imports TensorFlow, which the steps do not need, so that
  # `make_train_step` & co. import without it (benchmarks/unet_train_step.py on a JAX-only GPU).
  from flax.metrics import tensorboard  # pylint: disable=g-import-not-at-top
  writer = (tensorboard.SummaryWriter(os.path.join(workdir, 'tensorboard'))
            if jax.process_index() == 0 else _NoWriter())
  metrics_path = os.path.join(workdir, 'metrics.jsonl')
  metadata = {'model': config.model.to_dict(), 'image_size': config.data.image_size,
              'train_image_sizes': list(train_sides),
              'data': config.data.name, 'builder_config': config.data.get('builder_config')}

  def save_train_checkpoint(step: int, force: bool = False) -> None:
    train_ckpt.save(step, args=ocp.args.Composite(
        state=ocp.args.StandardSave(state), loader=grain.checkpoint.CheckpointSave(batches)),
                    force=force)

  def run_evaluation(step: int) -> dict:
    eval_metrics, per_image_iou = evaluate(eval_step, inference_variables(
        state, pretrained, interpolation), eval_split, config, data_sharding, workdir, step)
    for k, v in eval_metrics.items():
      writer.scalar(f'eval/{k}', v, step)
    writer.histogram('eval/per_image_iou', per_image_iou, step)
    _append_jsonl(metrics_path, {'step': step, 'split': 'eval', **eval_metrics})
    checkpoints.save_best(best_ckpt, step, inference_variables(state, pretrained, interpolation),
                          {**metadata, 'step': step, 'metrics': eval_metrics},
                          {'iou': eval_metrics['iou']})
    logging.info('eval step %d: %s', step, ', '.join(
        f'{k}={v:.4f}' for k, v in eval_metrics.items() if k.startswith(('iou', 'dice'))))
    return eval_metrics

  # -- The loop -------------------------------------------------------------------------------
  # Compile ahead of time, once per training side: XLA's cost analysis gives the FLOPs of a step
  # (for the ablation), and the progress bar's rate then excludes compilation.
  def compile_steps(freeze_encoder: bool) -> dict:
    step_fn = jit_train_step(freeze_encoder)
    compiled = {}
    for side in train_sides:
      abstract_batch = {
          k: jax.ShapeDtypeStruct((config.batch_size, side, side, channels), jnp.float32,
                                  sharding=data_sharding)
          for k, channels in (('image', 3), ('mask', 1))}
      compiled[side] = step_fn.lower(state, abstract_batch).compile()
    return compiled

  compiled_steps = compile_steps(start_step < frozen_steps)
  side_flops = [_flops(c) for c in compiled_steps.values()]
  # With several sides, the mean over them: each is drawn equally often.
  flops_per_step = None if None in side_flops else float(np.mean(side_flops))

  train_seconds, eval_metrics, step = 0.0, None, start_step
  progress = tqdm.tqdm(total=config.num_train_steps, initial=start_step, desc='train',
                       unit='step', dynamic_ncols=True, mininterval=1.0,
                       disable=jax.process_index() != 0)
  interval_start, interval_steps = time.perf_counter(), 0
  previous_metrics = None
  try:
    for step in range(start_step + 1, config.num_train_steps + 1):
      batch = put_batch(next(batches), data_sharding)
      if step == frozen_steps + 1 and step > 1:  # Unfreeze: now train through the encoder.
        compiled_steps = compile_steps(False)
      state, step_metrics = compiled_steps[batch['image'].shape[1]](state, batch)
      interval_steps += 1
      # One step in flight: the host reads the next batch while the devices run this step, and
      # the progress bar counts finished steps (with unbounded async dispatch it counted queued
      # ones, so its rate and time left swung between 19 steps/s and 4 s/step).
      jax.block_until_ready(previous_metrics)
      progress.update(step - 1 - progress.n)
      previous_metrics = step_metrics

      if step % config.log_every_steps == 0 or step == config.num_train_steps:
        step_metrics = jax.tree.map(float, jax.device_get(step_metrics))
        progress.update(step - progress.n)
        elapsed = time.perf_counter() - interval_start
        train_seconds += elapsed
        step_metrics['steps_per_second'] = interval_steps / elapsed
        step_metrics['learning_rate'] = float(schedule(step))
        for k, v in step_metrics.items():
          writer.scalar(f'train/{k}', v, step)
        _append_jsonl(metrics_path, {'step': step, 'split': 'train', **step_metrics})
        progress.set_postfix(loss=f"{step_metrics['loss']:.4f}",
                             steps_per_s=f"{step_metrics['steps_per_second']:.2f}")
        interval_start, interval_steps = time.perf_counter(), 0

      if step % config.eval_every_steps == 0 or step == config.num_train_steps:
        eval_start = time.perf_counter()
        eval_metrics = run_evaluation(step)
        interval_start += time.perf_counter() - eval_start  # Keep eval out of steps/s.
      if step % config.checkpoint_every_steps == 0 or step == config.num_train_steps:
        save_train_checkpoint(step)
  except KeyboardInterrupt:
    # Ctrl-C: keep the work done so far, then stop. (SIGKILL needs no handler: resuming picks
    # up the last complete checkpoint.)
    logging.warning('Interrupted at step %d: saving a checkpoint before exiting', step)
    save_train_checkpoint(int(state.step), force=True)
    train_ckpt.wait_until_finished()
    raise
  finally:
    progress.close()
    batches.close()

  if eval_metrics is None:  # Nothing left to train: a finished run, re-run. Report its result.
    logging.info('Run already complete at step %d; evaluating it again', start_step)
    eval_metrics, _ = evaluate(eval_step, inference_variables(state, pretrained, interpolation),
                               eval_split, config, data_sharding)
  train_ckpt.wait_until_finished()
  best_ckpt.wait_until_finished()
  writer.flush()

  summary = {
      'step': int(state.step),
      'eval': eval_metrics,
      'best_step': best_ckpt.best_step(),
      'num_params': num_params,
      'flops_per_step': flops_per_step,
      'train_seconds_this_run': train_seconds,
      'devices': mesh.size,
  }
  if summary['best_step'] is not None:
    best_metadata = best_ckpt.restore(summary['best_step'], args=ocp.args.Composite(
        metadata=ocp.args.JsonRestore()))['metadata']
    summary['best_iou'] = best_metadata['metrics']['iou']
  write_summary(workdir, summary)
  train_ckpt.close()
  best_ckpt.close()
  return summary


# ---------------------------------------------------------------------------------------------
# Ensembles.
# ---------------------------------------------------------------------------------------------

ENSEMBLE_MEMBERS_DIR = 'members'


def ensemble_member_workdir(workdir: str, seed: int) -> str:
  return os.path.join(workdir, ENSEMBLE_MEMBERS_DIR, f'seed_{seed}')


def stack_variables(variables: list[dict]) -> dict:
  """Variable trees of one model -> one tree with a leading member axis (what
  `predict.Segmenter(..., ensemble=True)` and `make_eval_step(model, ensemble=True)` take)."""
  return jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *variables)


def train_ensemble(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """`config.ensemble_size` runs of `config`, seeds `seed`, `seed + 1`, ..., each a
  `train_and_evaluate` run under `workdir/members/seed_<s>/`, whose person probabilities are
  averaged: their best inference variables, stacked, are evaluated and written as this workdir's
  `best/` (metadata `ensemble_size`), which `predict.Segmenter.from_workdir` loads as one model.

  What one run learns by chance, such as a patch of a cat called person, the others outvote;
  averaging their weights instead (a model soup) kept it (experiments/README.md). Resumes like
  a single run: each member resumes, finished members are only re-evaluated.
  """
  mesh = create_mesh()
  validate_config(config, mesh.size)
  check_workdir(workdir)
  checkpoints.write_or_check_config(workdir, config.to_dict(), write=jax.process_index() == 0)
  members = []
  for k in range(config.ensemble_size):
    member = ml_collections.ConfigDict(config.to_dict())
    member.ensemble_size, member.seed = 1, config.seed + k
    logging.info('Ensemble member %d of %d: seed %d', k + 1, config.ensemble_size, member.seed)
    summary = train_and_evaluate(member, ensemble_member_workdir(workdir, member.seed))
    members.append({'seed': member.seed, 'best_step': summary['best_step'],
                    'best_iou': summary.get('best_iou')})
  loaded = [checkpoints.load_best(ensemble_member_workdir(workdir, m['seed'])) for m in members]
  replicated = NamedSharding(mesh, P())
  data_sharding = NamedSharding(mesh, P('data'))
  variables = jax.device_put(stack_variables([v for v, _ in loaded]), replicated)
  model = models.create_model(config.model, config.get('dtype', 'float32'))
  eval_step = jit_eval_step(model, replicated, data_sharding, ensemble=True)
  _, eval_split = input_pipeline.get_splits(config.data)
  step = config.num_train_steps
  eval_metrics, _ = evaluate(eval_step, variables, eval_split, config, data_sharding, workdir,
                             step)
  logging.info('ensemble of %d: %s', config.ensemble_size, ', '.join(
      f'{k}={v:.4f}' for k, v in eval_metrics.items() if k.startswith(('iou', 'dice'))))
  best_ckpt = checkpoints.best_manager(workdir)
  if best_ckpt.latest_step() != step:  # A re-run of a finished ensemble keeps the one it wrote.
    checkpoints.save_best(best_ckpt, step, variables,
                          {**loaded[0][1], 'step': step, 'metrics': eval_metrics,
                           'ensemble_size': config.ensemble_size, 'ensemble_members': members},
                          {'iou': eval_metrics['iou']})
  best_ckpt.wait_until_finished()
  best_ckpt.close()
  summary = {'step': step, 'eval': eval_metrics, 'best_step': step,
             'best_iou': eval_metrics['iou'],
             'num_params': models.param_count(loaded[0][0]['params']),
             'ensemble_members': members, 'devices': mesh.size}
  write_summary(workdir, summary)
  return summary
