"""Gatys style transfer: each scale's N-step optimisation runs in one jitted XLA program, called in
spans of up to MAX_SPAN steps between progress reports.

Public API:

    params = weights.load_vgg19_params()                     # numpy, kernels HWIO
    image, history = transfer_style(params, content, [style], config=cfg,
                                    key=jax.random.PRNGKey(0))

`content` and each style are float RGB [H, W, 3] in [0, 1] (`image_io.load_image`); the result is
float32 RGB in [0, 1] at the content's aspect ratio (`config.size` long side, 0 = full size).

Building blocks that the benchmarks reuse: `make_loss_fn`, `compute_targets`, `run_optimisation`
(pure functions of arrays), `scale_schedule`.
"""
from __future__ import annotations

import functools
import itertools
import time
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from nst_flax import color, lbfgs, losses, precondition, xla_cpu
from nst_flax.compilation_cache import ONE_SHOT_COMPILER_OPTIONS
from nst_flax.config import get_default_config
from nst_flax.image_io import fit_max_side, resize_image
from nst_flax.vgg import LAYERS, VGG19, check_layers, grad_kernels, layer_index, valid_masks
from nst_flax.weights import preprocess

__all__ = ['transfer_style', 'LossSpec', 'loss_spec_from_config', 'make_loss_fn', 'compute_targets',
           'run_optimisation', 'scale_schedule', 'prepare_params', 'resolve_conv_algorithm',
           'TERM_NAMES']

TERM_NAMES = ('total', 'content', 'style', 'tv')


class LossSpec(NamedTuple):
  """Static (hashable) description of the loss."""
  content_layers: Tuple[str, ...]
  content_layer_weights: Tuple[float, ...]
  style_layers: Tuple[str, ...]
  style_layer_weights: Tuple[float, ...]
  content_weight: float
  style_weight: float
  tv_weight: float
  pooling: str = 'max'
  guided: bool = False

  @property
  def layers(self) -> Tuple[str, ...]:
    seen = []
    for n in self.content_layers + self.style_layers:
      if n not in seen:
        seen.append(n)
    return tuple(seen)


def loss_spec_from_config(config) -> LossSpec:
  c_layers = tuple(config.content_layers)
  c_w = tuple(float(w) for w in config.content_layer_weights) or (1.0,) * len(c_layers)
  if len(c_w) != len(c_layers):
    if len(c_w) == 1:
      c_w = c_w * len(c_layers)
    else:
      raise ValueError(f'{len(c_layers)} content layers but {len(c_w)} content layer '
                       f'weights')
  s_layers, s_w, mult = losses.resolve_style_layers(
      config.style_preset, tuple(config.style_layers), tuple(config.style_layer_weights))
  check_layers(c_layers + s_layers)
  if config.pooling not in ('max', 'avg'):
    raise ValueError(f"pooling must be 'max' or 'avg', not {config.pooling!r}")
  return LossSpec(c_layers, c_w, tuple(s_layers), tuple(s_w), float(config.content_weight),
                  float(config.style_weight) * mult, float(config.tv_weight),
                  config.pooling, bool(config.guided_style))


def resolve_grad_dtype(grad_dtype: str) -> str:
  """`config.grad_dtype`: 'auto' is 'bfloat16' on a CPU backend whose CPU has AMX, else
  'float32'."""
  if grad_dtype == 'auto':
    amx = jax.default_backend() == 'cpu' and xla_cpu.has_amx_bf16()
    return 'bfloat16' if amx else 'float32'
  if grad_dtype not in ('float32', 'bfloat16'):
    raise ValueError(f"config.grad_dtype must be 'auto', 'float32' or 'bfloat16', not "
                     f'{grad_dtype!r}')
  return grad_dtype


def resolve_conv_algorithm(conv_algorithm: str) -> str:
  """`config.conv_algorithm`: 'auto' is 'winograd' on a CPU backend, else 'direct' (XLA's
  convolution: cuDNN on GPUs, the MXU on TPUs). On an H200 (jax 0.11.2, 2026-12-04) Winograd
  made a 512-px iteration only 1.03x faster, and its batched products are what XLA:GPU
  autotunes and compiles for most of the first image's time (benchmarks/README.md)."""
  if conv_algorithm == 'auto':
    return 'winograd' if jax.default_backend() == 'cpu' else 'direct'
  if conv_algorithm not in ('winograd', 'direct'):
    raise ValueError(f"config.conv_algorithm must be 'auto', 'winograd' or 'direct', not "
                     f'{conv_algorithm!r}')
  return conv_algorithm


def prepare_params(params, grad_dtype: str = 'float32', conv_algorithm: str = 'winograd'):
  """params (numpy or jax) -> (params as jax arrays, the `grad_kernels` collection).
  `conv_algorithm` ('winograd' or 'direct'; `resolve_conv_algorithm`) sets the wide layers'
  convs through the kernels of that collection."""
  p = jax.tree_util.tree_map(jnp.asarray, params)
  return p, jax.jit(grad_kernels, static_argnames=('winograd', 'grad_dtype'))(
      p, winograd=conv_algorithm == 'winograd', grad_dtype=grad_dtype)


def _features(spec: LossSpec, params, gk, x01, layers, valid=None):
  model = VGG19(pooling=spec.pooling)
  variables = {'params': params} if gk is None else {'params': params, 'grad_kernels': gk}
  return model.apply(variables, preprocess(x01), layers=layers, valid=valid)


def make_loss_fn(spec: LossSpec, params, gk, targets):
  """x01 [1, H, W, 3] -> (total, terms[4] = total, content, style, tv (weighted)).

  With `targets["valid"]` (a padded image's real-pixel mask, `compute_targets`) every term
  covers the real pixels only, and the padding gets zero gradient.
  """
  c_w = dict(zip(spec.content_layers, spec.content_layer_weights))
  s_w = dict(zip(spec.style_layers, spec.style_layer_weights))
  valid = targets.get('valid')
  vm = None if valid is None else valid_masks(valid, spec.layers)
  masks = targets.get('masks') if spec.guided else None
  if vm is not None:
    masks = {n: vm[n] if masks is None else masks[n] * vm[n] for n in spec.style_layers}

  def loss_fn(x):
    feats = _features(spec, params, gk, x, spec.layers, valid)
    lc = spec.content_weight * losses.content_loss(feats, targets['content'], c_w, vm)
    ls = spec.style_weight * losses.style_loss(feats, targets['grams'], s_w, masks)
    lt = spec.tv_weight * losses.tv_loss(x, valid)
    total = lc + ls + lt
    return total, jnp.stack([total, lc, ls, lt])

  return loss_fn


def _background_masks(spec: LossSpec, mask, layer_hw):
  """{style layer: [1, h, w, 1] background (1 - person) mask resized to `layer_hw[layer]`}."""
  background = 1.0 - jnp.clip(mask, 0.0, 1.0)
  return {n: losses.resize_mask(background, layer_hw[n]) for n in spec.style_layers}


# Run once per photo and scale: compiled without GPU autotuning (`compilation_cache`). On an
# H200 (2026-12-04) the four resizes, compiled op by op with autotuning, took 12 s.
@functools.partial(jax.jit, static_argnames=('spec', 'layer_hw'),
                   compiler_options=ONE_SHOT_COMPILER_OPTIONS)
def _background_masks_one_shot(spec: LossSpec, mask, layer_hw: Tuple[Tuple[str, Tuple[int, int]],
                                                                      ...]):
  return _background_masks(spec, mask, dict(layer_hw))


def _layer_hw(hw, layer: str) -> Tuple[int, int]:
  """A layer's (h, w) for an (h, w) image: halved (rounding down) by each pool before it."""
  pools = sum(1 for n in LAYERS[: layer_index(layer)] if n.endswith('_pool'))
  return hw[0] >> pools, hw[1] >> pools


# Runs once per photo and scale: no GPU autotuning (on an H200, 2026-12-04, its compile took
# 15 s with it).
@functools.partial(jax.jit, static_argnames=('spec',), compiler_options=ONE_SHOT_COMPILER_OPTIONS)
def compute_targets(spec: LossSpec, params, content, styles, style_weights, mask=None,
                    valid=None):
  """Content features, blended style Grams and (guided) per-layer background masks.

  content [1, H, W, 3]; styles: tuple of [1, h_i, w_i, 3]; style_weights [n_styles];
  mask: optional [1, H, W, 1] foreground (person) mask in [0, 1], or {style layer: background
  mask at that layer} (a padded image's, made at its real size); valid: optional
  [1, H, W, 1] 0/1 mask of a padded content's real pixels (kept as `targets["valid"]`).
  """
  cf = _features(spec, params, None, content, spec.content_layers + spec.style_layers, valid)
  wsum = jnp.sum(style_weights)
  grams = {n: 0.0 for n in spec.style_layers}
  for i, s in enumerate(styles):
    sf = _features(spec, params, None, s, spec.style_layers)
    for n in spec.style_layers:
      grams[n] = grams[n] + style_weights[i] / wsum * losses.gram(sf[n])
  out = {'content': {n: cf[n] for n in spec.content_layers}, 'grams': grams}
  if valid is not None:
    out['valid'] = valid
  if spec.guided:
    if mask is None:
      raise ValueError('guided_style needs a content mask')
    if isinstance(mask, dict):  # per-layer background masks, made by the caller
      out['masks'] = {n: mask[n] for n in spec.style_layers}
    else:
      out['masks'] = _background_masks(spec, mask, {n: cf[n].shape[1:3]
                                                    for n in spec.style_layers})
  return out


# ---------------------------------------------------------------------- progress callbacks
# The loop runs in spans between reports: each span is a call of one compiled program (the
# carry donated, the step bounds traced), and the host reports between them. A program with host
# callbacks is never written to the persistent compilation cache (jax 0.10.2), so a loop that
# called back from inside compiled again on every run: 6.1-6.6 s at 512 px on 2 CPU cores, the
# first step 9.6-10.0 s after start against 4.6 s now on a warm cache (benchmarks/README.md).
# A span costs ~0.06 s beyond its steps (XLA copies the loop's carry into its while loop), so
# spans are as long as the reports allow, at most MAX_SPAN steps. Progress and snapshot
# callbacks are looked up by run id (`_RUNS`), so runs in several threads at once
# (`pipeline.style_photos`, one device each) report to their own.
MAX_SPAN = 100
_RUNS: Dict[int, Tuple[Optional[Callable], Optional[Callable]]] = {}
_RUN_IDS = itertools.count(1)


def _dispatch(run_id, step, terms, x, do_log, do_snap):
  progress, snapshot = _RUNS.get(int(run_id), (None, None))
  step = int(step)
  if bool(do_log) and progress is not None:
    progress(step, np.asarray(terms))
  if bool(do_snap) and snapshot is not None and x is not None:
    snapshot(step, np.asarray(x)[0])


_LOOP_STATIC = ('spec', 'optimizer', 'lr', 'lbfgs_memory', 'range_penalty', 'lbfgs_linesearch')


def _optimiser(spec: LossSpec, params, gk, targets, precond, optimizer: str, lr: float,
               lbfgs_memory: int, range_penalty: float, lbfgs_linesearch: str):
  """(optax optimiser, step): step(x, state) -> (x, state, terms [4], full terms thunk or
  None). Adam's terms are all there; L-BFGS's are [total, nan, nan, nan], and the thunk costs a
  forward pass for the others. With `precond` (`precondition.frequency_scaling`'s arrays)
  L-BFGS's x is z, the image `precondition.to_image(z)`."""
  loss_fn = make_loss_fn(spec, params, gk, targets)
  if optimizer == 'adam':
    opt = optax.adam(lr)

    def adam_step(x, st):
      (_, terms), g = jax.value_and_grad(loss_fn, has_aux=True)(x)
      upd, st = opt.update(g, st, x)
      return jnp.clip(optax.apply_updates(x, upd), 0.0, 1.0), st, terms, None

    return opt, adam_step
  if optimizer != 'lbfgs':
    raise ValueError(f"optimizer must be 'adam' or 'lbfgs', not {optimizer!r}")
  # Unconstrained, L-BFGS pushes pixels out of [0, 1] where that lowers the loss, and
  # clipping the result then costs what it gained (at 128 px, 100 iterations: loss 1.199,
  # clipped 1.621). A smooth penalty keeps them in range at the same loss (1.201, clipped
  # 1.201 with 1000) and leaves L-BFGS's line search a smooth function.
  valid = targets.get('valid')

  def total_fn(z):
    x = precondition.to_image(z, precond)
    out = jnp.square(jax.nn.relu(x - 1.0)) + jnp.square(jax.nn.relu(-x))
    if valid is not None:  # a padded image: the mean over its real pixels
      return loss_fn(x)[0] + range_penalty * jnp.sum(out * valid) / (
          jnp.sum(valid) * out.shape[-1])
    return loss_fn(x)[0] + range_penalty * jnp.mean(out)
  if lbfgs_linesearch == 'zoom':
    opt = lbfgs.lbfgs(memory_size=lbfgs_memory)
    # The line search has already evaluated the loss and gradient at the new point.
    vg = optax.value_and_grad_from_state(total_fn)
  elif lbfgs_linesearch == 'none':
    opt = lbfgs.lbfgs(learning_rate=1.0, memory_size=lbfgs_memory, linesearch=None)
    vg = lambda x, state: jax.value_and_grad(total_fn)(x)
  else:
    raise ValueError(f"lbfgs_linesearch must be 'zoom' or 'none', not {lbfgs_linesearch!r}")

  def lbfgs_step(x, st):
    value, g = vg(x, state=st)
    upd, st = opt.update(g, st, x, value=value, grad=g, value_fn=total_fn)
    terms = jnp.full((len(TERM_NAMES),), jnp.nan).at[0].set(value)
    return optax.apply_updates(x, upd), st, terms, lambda: loss_fn(precondition.to_image(x, precond))[1]

  return opt, lbfgs_step


@functools.partial(jax.jit, static_argnames=_LOOP_STATIC)
def _start_loop(spec: LossSpec, params, gk, x0, targets, precond, *, optimizer, lr,
                lbfgs_memory, range_penalty, lbfgs_linesearch):
  """The loop's carry before its first step: (x0, or z0 with `precond`; the optimiser's
  state)."""
  opt, _ = _optimiser(spec, params, gk, targets, precond, optimizer, lr, lbfgs_memory,
                      range_penalty, lbfgs_linesearch)
  if optimizer == 'lbfgs':
    x0 = precondition.from_image(x0, precond)
  return x0, opt.init(x0)


@functools.partial(jax.jit, static_argnames=_LOOP_STATIC, donate_argnames=('carry',))
def _run_span(spec: LossSpec, params, gk, targets, precond, carry, start, stop, full_terms, *,
              optimizer, lr, lbfgs_memory, range_penalty, lbfgs_linesearch):
  """Steps `start` to `stop - 1` (traced; stop - start <= MAX_SPAN) from `carry`: (carry, terms
  [MAX_SPAN, 4] of those steps, from row 0). With `full_terms`, L-BFGS's last step has all its
  terms."""
  _, step = _optimiser(spec, params, gk, targets, precond, optimizer, lr, lbfgs_memory,
                       range_penalty, lbfgs_linesearch)

  def body(i, c):
    (x, st), rows = c
    x_new, st, terms, full = step(x, st)
    if full is not None:
      terms = jax.lax.cond(full_terms & (i == stop - 1), full, lambda: terms)
    return (x_new, st), rows.at[i - start].set(terms)

  rows = jnp.zeros((MAX_SPAN, len(TERM_NAMES)), jnp.float32)
  return jax.lax.fori_loop(start, stop, body, (carry, rows))


def run_optimisation(spec: LossSpec, params, gk, x0, targets, *, optimizer: str = 'adam',
                     steps: int = 100, lr: float = 0.02, log_every: int = 0,
                     snapshot_every: int = 0, lbfgs_memory: int = 10, run_id: int = 0,
                     log_terms: bool = True, range_penalty: float = 0.0,
                     lbfgs_linesearch: str = 'zoom', preconditioner=None):
  """The N-step loop, compiled once for every step count. Returns (x [1, H, W, 3] in [0, 1],
  history float32 [steps, 4]).

  Every `log_every` / `snapshot_every` steps it calls the progress / snapshot callbacks
  registered under `run_id` in `_RUNS` (what `transfer_style` does); none registered: no calls.
  With `log_terms=False` L-BFGS reports the total only (NaN for the terms), so that reporting
  every few steps costs no extra forward pass (what the time-to-quality benchmark does).
  L-BFGS minimises the loss plus `range_penalty` x the mean squared distance of the pixels
  outside [0, 1] (Adam clips after each step instead); its history's total includes it.
  `lbfgs_linesearch`: 'zoom' (optax's zoom line search, strong Wolfe conditions) or 'none'
  (a unit step every iteration, one loss evaluation each, as torch.optim.LBFGS runs by default;
  optax caps the first step at unit length). `preconditioner`: L-BFGS on z with x = P z
  (`precondition.frequency_scaling`'s arrays; None: on x).
  """
  static = dict(spec=spec, optimizer=optimizer, lr=float(lr), lbfgs_memory=int(lbfgs_memory),
                range_penalty=float(range_penalty), lbfgs_linesearch=lbfgs_linesearch)
  precond = None
  if preconditioner is not None and optimizer == 'lbfgs':
    precond = jax.tree_util.tree_map(jnp.asarray, preconditioner)
  # Adam's iterate is clipped at every step; L-BFGS's only where it is shown or returned.
  if optimizer == 'adam':
    image = lambda c: c[0]
  else:
    image = lambda c: jnp.clip(precondition.to_image(c[0], precond), 0.0, 1.0)
  carry = _start_loop(params=params, gk=gk, x0=x0, targets=targets, precond=precond, **static)
  reports = {s for every in (log_every, snapshot_every) if every > 0
             for s in range(every, steps, every)} | {steps}
  ends = sorted(reports | set(range(MAX_SPAN, steps, MAX_SPAN)))
  want_cb = log_every > 0 or snapshot_every > 0
  hist = np.zeros((steps, len(TERM_NAMES)), np.float32)
  begin = 0
  for end in ends:
    do_log = log_every > 0 and (end % log_every == 0 or end == steps)
    do_snap = snapshot_every > 0 and (end % snapshot_every == 0 or end == steps)
    carry, rows = _run_span(params=params, gk=gk, targets=targets, precond=precond,
                            carry=carry, start=begin,
                            stop=end, full_terms=bool(do_log and log_terms), **static)
    hist[begin:end] = np.asarray(rows)[:end - begin]
    if want_cb and end in reports:
      _dispatch(run_id, end - 1, hist[end - 1], image(carry) if do_snap else None, do_log,
                do_snap)
    begin = end
  return image(carry), hist


# ---------------------------------------------------------------------- driver


def scale_schedule(hw: Tuple[int, int], multiscale: bool, min_side: int) -> List[Tuple[int, int]]:
  """[(h, w), ...] coarse to fine, ending at `hw`; each level half the next one."""
  h, w = hw
  sizes = [(h, w)]
  if multiscale:
    long_side = max(h, w)
    while long_side / 2 >= min_side:
      long_side = long_side / 2
      sizes.insert(0, fit_max_side(h, w, int(round(long_side))))
  return sizes


def bucket_hw(hw: Tuple[int, int], bucket: int) -> Tuple[int, int]:
  """(h, w) rounded up to multiples of `bucket` pixels (0: unchanged): the padded shape that
  every image of that bucket compiles for."""
  if bucket <= 0:
    return tuple(hw)
  return tuple(-(-int(v) // bucket) * bucket for v in hw)


def _pad_to(a, hw, mode='edge'):
  """[1, h, w, C] -> [1, H, W, C], extended at the bottom and the right."""
  return np.pad(a, ((0, 0), (0, hw[0] - a.shape[1]), (0, hw[1] - a.shape[2]), (0, 0)),
                mode=mode)


def _output_hw(content_hw, config) -> Tuple[int, int]:
  h, w = content_hw
  size = int(config.size)
  if size < 0:
    raise ValueError(f"config.size must be >= 0 (0 = content's full resolution), not {size}")
  if size == 0 or (size >= max(h, w) and not config.allow_upscale):
    return h, w
  return fit_max_side(h, w, size)


def _print_progress(scale_label, steps, t0):
  state = {'t': time.perf_counter(), 'step': -1}

  def progress(step, terms):
    now = time.perf_counter()
    dt = (now - state['t']) / max(step - state['step'], 1)
    state['t'], state['step'] = now, step
    parts = ' '.join(f'{n} {v:.4g}' for n, v in zip(TERM_NAMES, terms) if np.isfinite(v))
    print(f'[{scale_label}] step {step + 1:4d}/{steps}  {parts}  ({dt:.2f} s/step, '
          f'{now - t0:.0f} s)', flush=True)

  return progress


def transfer_style(params, content, styles: Sequence,
                   style_weights: Optional[Sequence[float]] = None,
                   config: Optional[ml_collections.ConfigDict] = None, *, content_mask=None,
                   key=None, progress: Optional[Callable] = None,
                   snapshot: Optional[Callable] = None, verbose: bool = True,
                   log_prefix: str = '', progress_terms: bool = True):
  """Gatys style transfer of `content` in the style of `styles` (blended by `style_weights`).

  Args:
    params: VGG19 params (`weights.load_vgg19_params`).
    content: RGB [H, W, 3] in [0, 1].
    styles: one RGB image or a sequence of them (any sizes).
    style_weights: blend weights of the styles' Gram matrices (default equal).
    config: `nst_flax.config.get_default_config()` or an override of it.
    content_mask: optional [H, W] or [H, W, 1] mask in [0, 1] (1 = person); with
      `config.guided_style` the style loss covers only the mask == 0 region.
    key: PRNGKey for noise starts (default: PRNGKey(config.seed)).
    progress: `fn(step, terms)` called every `config.log_every` steps (default: print).
    snapshot: `fn(global_step, image01)` called every `config.snapshot_every` steps.
    verbose: print the progress lines (when no `progress` is given).
    log_prefix: put before the scale label of those lines, e.g. the photo's name.
    progress_terms: False: with L-BFGS, `progress` gets the total only (no extra forward pass
      per logged step; the other terms are NaN).

  Returns:
    (image float32 [h, w, 3] in [0, 1], history dict: per-term loss arrays over all steps,
     'scale' index per step, 'sizes', 'seconds_per_step' per scale, 'seconds').
  """
  config = config or get_default_config()
  spec = loss_spec_from_config(config)
  content = np.asarray(content, np.float32)
  if content.ndim != 3 or content.shape[-1] != 3:
    raise ValueError(f'content must be RGB [H, W, 3], got shape {content.shape}')
  if isinstance(styles, np.ndarray) and styles.ndim == 3:
    styles = [styles]
  styles = [np.asarray(s, np.float32) for s in styles]
  if not styles:
    raise ValueError('at least one style image is needed')
  for s in styles:
    if s.ndim != 3 or s.shape[-1] != 3:
      raise ValueError(f'style images must be RGB [H, W, 3], got shape {s.shape}')
  if style_weights is None:
    style_weights = [1.0] * len(styles)
  style_weights = np.asarray(style_weights, np.float32)
  if style_weights.shape != (len(styles),) or np.any(style_weights < 0) or \
          style_weights.sum() <= 0:
    raise ValueError(f'style_weights must be {len(styles)} non-negative numbers with a '
                     f'positive sum, got {style_weights.tolist()}')
  if spec.guided and content_mask is None:
    raise ValueError('config.guided_style=True needs a content_mask')
  if content_mask is not None:
    content_mask = np.asarray(content_mask, np.float32)
    if content_mask.ndim == 2:
      content_mask = content_mask[..., None]
    if content_mask.shape[:2] != content.shape[:2]:
      raise ValueError(f'content_mask is {content_mask.shape[:2]}, content is '
                       f'{content.shape[:2]}')
  if config.init not in ('content', 'noise', 'style'):
    raise ValueError(f"config.init must be 'content', 'noise' or 'style', not "
                     f'{config.init!r}')
  if config.preserve_colors not in ('none', 'luminance', 'histogram'):
    raise ValueError(f"config.preserve_colors must be 'none', 'luminance' or 'histogram', "
                     f'not {config.preserve_colors!r}')
  if float(config.lbfgs_precondition) < 0:
    raise ValueError(f'config.lbfgs_precondition must be >= 0 (0 = off), not '
                     f'{config.lbfgs_precondition}')
  key = jax.random.PRNGKey(int(config.seed)) if key is None else key

  out_hw = _output_hw(content.shape[:2], config)
  sizes = scale_schedule(out_hw, bool(config.multiscale), int(config.multiscale_min))
  if min(sizes[0]) < 16:
    sizes = [hw for hw in sizes if min(hw) >= 16] or [out_hw]
  deepest = max(layer_index(n) for n in spec.layers)
  n_pools = sum(1 for i in range(deepest) if i in {2, 5, 10, 15, 20})
  if min(out_hw) < 2 ** n_pools:
    raise ValueError(f'output {out_hw[1]}x{out_hw[0]} is too small for layer depth '
                     f'(needs at least {2 ** n_pools} pixels a side); use a larger image or '
                     f'config.allow_upscale=True with a larger config.size')

  # Colour handling happens on the inputs (and once more on the output for luminance).
  work_content, work_styles = content, styles
  if config.preserve_colors == 'luminance':
    work_content = color.luminance_image(content)
    work_styles = [color.luminance_image(s, like=content) for s in styles]
  elif config.preserve_colors == 'histogram':
    work_styles = [color.match_color_histogram(s, content) for s in styles]

  bucket = int(config.size_bucket)
  if bucket < 0:
    raise ValueError(f'config.size_bucket must be >= 0 (0 = no padding), not {bucket}')
  jparams, gk = prepare_params(params, resolve_grad_dtype(str(config.grad_dtype)),
                               resolve_conv_algorithm(str(config.conv_algorithm)))
  history = {n: [] for n in TERM_NAMES}
  history.update(scale=[], sizes=sizes, seconds_per_step=[])
  t_start = time.perf_counter()
  x = None
  global_step = 0
  for si, hw in enumerate(sizes):
    steps = int(config.steps) if si == 0 else int(config.refine_steps)
    c_s = resize_image(work_content, hw)[None]
    long_side = max(1, int(round(max(hw) * float(config.style_scale))))
    s_list = tuple(jnp.asarray(resize_image(s, fit_max_side(*s.shape[:2], long_side))[None])
                   for s in work_styles)
    m_s = None
    if content_mask is not None and spec.guided:
      m_s = np.clip(resize_image(np.repeat(content_mask, 3, -1), hw)[..., :1], 0, 1)[None]
    # Size buckets: the image is padded to the bucket's shape and the losses cover its real
    # pixels only, so every photo of a bucket runs the same compiled programs.
    padded_hw = bucket_hw(hw, bucket)
    valid = None
    if bucket > 0:
      valid = jnp.asarray(_pad_to(np.ones((1, *hw, 1), np.float32), padded_hw, 'constant'))
    pad = (lambda a: a) if valid is None else (lambda a: _pad_to(np.asarray(a), padded_hw))
    if m_s is not None and valid is not None:
      # Resized at the real size, then padded: the masks the unpadded image would get.
      m_s = {n: _pad_to(np.asarray(m), _layer_hw(padded_hw, n), 'constant')
             for n, m in _background_masks_one_shot(
                 spec, jnp.asarray(m_s), tuple((n, _layer_hw(hw, n))
                                               for n in spec.style_layers)).items()}
    targets = compute_targets(spec, jparams, jnp.asarray(pad(c_s)), s_list,
                              jnp.asarray(style_weights), m_s, valid)
    if x is None:
      if config.init == 'content':
        x0 = c_s
      elif config.init == 'noise':
        x0 = np.asarray(jax.random.uniform(key, c_s.shape, jnp.float32))
      else:
        x0 = resize_image(work_styles[0], hw)[None]
      if config.init_noise > 0:
        noise = np.asarray(jax.random.uniform(jax.random.fold_in(key, 1), c_s.shape))
        x0 = (1 - config.init_noise) * x0 + config.init_noise * noise
    else:
      x0 = resize_image(np.asarray(x)[0], hw)[None]
    if steps <= 0:
      x = jnp.asarray(x0)
      continue
    exponent = float(config.lbfgs_precondition)
    preconditioner = None
    if config.optimizer == 'lbfgs' and exponent > 0:
      preconditioner = precondition.frequency_scaling(hw, exponent, padded_hw)
    label = f'{log_prefix}{hw[1]}x{hw[0]}'
    if padded_hw != tuple(hw):
      label += f' (padded to {padded_hw[1]}x{padded_hw[0]})'
    if progress is None and verbose and config.log_every > 0:
      run_progress = _print_progress(label, steps, t_start)
    else:
      run_progress = progress
    offset = global_step
    run_snapshot = (None if snapshot is None else
                    (lambda step, img, _o=offset, _h=hw[0], _w=hw[1]:
                     snapshot(_o + step + 1, img[:_h, :_w])))
    run_id = next(_RUN_IDS)
    _RUNS[run_id] = (run_progress, run_snapshot)
    if verbose and config.log_every > 0:
      print(f'[{label}] scale {si + 1}/{len(sizes)}: compiling the {steps}-step '
            f'{config.optimizer} loop ...', flush=True)
    t0 = time.perf_counter()
    try:
      x, hist = run_optimisation(
          spec, jparams, gk, jnp.asarray(pad(x0), jnp.float32), targets,
          optimizer=config.optimizer, steps=steps, lr=float(config.lr),
          log_every=int(config.log_every if (verbose or progress) else 0),
          snapshot_every=int(config.snapshot_every if snapshot else 0),
          lbfgs_memory=int(config.lbfgs_memory), run_id=run_id,
          log_terms=progress_terms,
          range_penalty=float(config.lbfgs_range_penalty),
          lbfgs_linesearch=str(config.lbfgs_linesearch), preconditioner=preconditioner)
      hist = np.asarray(hist)
      x = x[:, :hw[0], :hw[1]]
    finally:
      _RUNS.pop(run_id, None)
    history['seconds_per_step'].append((time.perf_counter() - t0) / steps)
    for j, n in enumerate(TERM_NAMES):
      history[n].extend(hist[:, j].tolist())
    history['scale'].extend([si] * steps)
    global_step += steps
  history['seconds'] = time.perf_counter() - t_start
  result = np.clip(np.asarray(x)[0], 0.0, 1.0).astype(np.float32)
  if config.preserve_colors == 'luminance':
    result = color.combine_luminance(result, resize_image(content, result.shape[:2]))
  for n in TERM_NAMES:
    history[n] = np.asarray(history[n], np.float32)
  history['scale'] = np.asarray(history['scale'], np.int32)
  return result, history
