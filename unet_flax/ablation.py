"""U-Net ablation over `base_filters` x `depth` x seeds: the grid runner and its results.

Every (cell, seed) is an ordinary run of `unet_flax.train.train_and_evaluate` (the main job's
trainer, the same sharded code path on 1 CPU or 8 TPU cores) in its own workdir
`<workdir>/f{filters}_d{depth}_s{seed}`, on the config's `base` with `model.base_filters`,
`model.head_filters`, `model.depth` and `seed` replaced; data, steps and schedule are the same for
every cell. A run whose `summary.json` says `step == num_train_steps` is done and is read back,
not trained again (a run started with another config is an error naming the keys); an
interrupted run resumes from its last checkpoint (the trainer does that), so running the grid
again continues where it stopped.

Per cell it records: parameter count, FLOPs per training step (XLA cost analysis of the compiled
step), measured step time (median of the logged `steps_per_second` intervals, the first excluded),
validation IoU and Dice over seeds (mean, sample standard deviation and the 95% confidence
interval of the mean, Student t: mean ± t(0.975, n-1) * sd / sqrt(n); none with one seed) and the
per-image IoU spread (10th / 50th / 90th percentile of the per-image IoUs, averaged over seeds).
`write_results` writes `<name>.csv` (one row per cell), `<name>_runs.csv` (one row per run, which
`read_runs_csv` reads back to rebuild everything without training), `<name>.md` (the table, then
per axis the IoU difference of neighbouring cells and of the axis' two ends, with its standard
error and whether it is resolved) and the plots `<name>_iou_vs_params.png` and
`<name>_heatmaps.png` (IoU and step time, filters x depth).

experiments/ablate_unet.py is the command line; the Colab notebook calls `run_grid` and
`write_results` directly.
"""
from __future__ import annotations

import copy
import csv
import json
import math
import os
import time
from typing import Callable

import numpy as np

# Per-run columns (`<name>_runs.csv`) and per-cell columns (`<name>.csv`).
RUN_COLUMNS = ('base_filters', 'depth', 'seed', 'num_params', 'flops_per_step', 'step_time_ms',
               'iou', 'dice', 'best_iou', 'per_image_iou_p10', 'per_image_iou_median',
               'per_image_iou_p90', 'train_seconds', 'devices')
_INT_RUN_COLUMNS = ('base_filters', 'depth', 'seed', 'num_params', 'devices')
CELL_COLUMNS = ('base_filters', 'depth', 'num_params', 'gflops_per_step', 'step_time_ms',
                'step_time_ms_spread', 'iou_mean', 'iou_std', 'iou_ci95', 'dice_mean',
                'dice_std', 'dice_ci95', 'per_image_iou_p10', 'per_image_iou_median',
                'per_image_iou_p90', 'num_seeds')
# A difference between two cells is resolved when it exceeds this many standard errors.
RESOLVED_SE = 2.0


# ---------------------------------------------------------------------------------------------
# The grid.
# ---------------------------------------------------------------------------------------------

def grid_cells(config) -> list[tuple[int, int, int]]:
  """(base_filters, depth, seed) of every run, cells in row-major order, seeds innermost."""
  g = config.grid
  return [(int(f), int(d), int(s)) for f in g.base_filters for d in g.depths for s in g.seeds]


def cell_config(config, filters: int, depth: int, seed: int):
  """The unet config of one run: `config.base` with the cell's model size and seed."""
  base = copy.deepcopy(config.base)
  base.model.base_filters = filters
  base.model.head_filters = filters
  base.model.depth = depth
  base.seed = seed
  multiple = 2**(depth - 1)
  if base.data.image_size % multiple:
    raise ValueError(f'config.base.data.image_size={base.data.image_size} must be a multiple of '
                     f'2**(depth-1)={multiple} for depth {depth} in config.grid.depths')
  return base


def run_dir(workdir: str, filters: int, depth: int, seed: int) -> str:
  return os.path.join(workdir, f'f{filters}_d{depth}_s{seed}')


def finished_summary(path: str, num_steps: int) -> dict | None:
  """The run's summary.json if the run is complete (step == num_steps), else None."""
  try:
    with open(os.path.join(path, 'summary.json')) as f:
      summary = json.load(f)
  except (OSError, ValueError):
    return None
  return summary if summary.get('step') == num_steps else None


def _flat(d: dict, prefix: str = '') -> dict:
  out = {}
  for k, v in d.items():
    if isinstance(v, dict):
      out.update(_flat(v, f'{prefix}{k}.'))
    else:
      out[f'{prefix}{k}'] = v
  return out


def check_same_config(path: str, cell) -> None:
  """Raises ValueError if the run in `path` was started with a different config than `cell`
  (e.g. --config.base.x changed after part of the grid ran), so that no table mixes runs that
  differ in more than filters, depth and seed."""
  try:
    with open(os.path.join(path, 'config.json')) as f:
      previous = _flat(json.load(f))
  except (OSError, ValueError):
    return
  current = _flat(json.loads(json.dumps(cell.to_dict())))
  changed = sorted(k for k in previous.keys() | current.keys()
                   if previous.get(k) != current.get(k))
  if changed:
    raise ValueError(
        f'{path} was trained with another config '
        f'({", ".join(f"{k}={previous.get(k)!r}" for k in changed)}; '
        f'now {", ".join(f"{k}={current.get(k)!r}" for k in changed)}); use a new --workdir for '
        'a changed grid, or the config it was run with')


def measured_step_time(path: str) -> float | None:
  """Seconds per training step: the median over the logged intervals of 1 / steps_per_second,
  the first interval excluded (it includes warm-up), from the run's metrics.jsonl."""
  rates = []
  try:
    with open(os.path.join(path, 'metrics.jsonl')) as f:
      for line in f:
        record = json.loads(line)
        if record.get('split') == 'train' and record.get('steps_per_second'):
          rates.append(record['steps_per_second'])
  except OSError:
    return None
  if len(rates) > 1:
    rates = rates[1:]
  return float(np.median(1.0 / np.asarray(rates))) if rates else None


def run_row(filters: int, depth: int, seed: int, summary: dict, path: str) -> dict:
  ev = summary['eval']
  step_time = measured_step_time(path)
  return {
      'base_filters': filters, 'depth': depth, 'seed': seed,
      'num_params': summary['num_params'], 'flops_per_step': summary.get('flops_per_step'),
      'step_time_ms': None if step_time is None else 1000.0 * step_time,
      'iou': ev['iou'], 'dice': ev['dice'], 'best_iou': summary.get('best_iou'),
      'per_image_iou_p10': ev.get('per_image_iou_p10'),
      'per_image_iou_median': ev.get('per_image_iou_median'),
      'per_image_iou_p90': ev.get('per_image_iou_p90'),
      'train_seconds': summary.get('train_seconds_this_run'), 'devices': summary.get('devices'),
  }


def run_grid(config, workdir: str, train_fn: Callable | None = None,
             log: Callable[[str], None] = print) -> list[dict]:
  """Trains every (cell, seed) not finished yet and returns one row per run (RUN_COLUMNS).

  `train_fn(unet_config, run_workdir) -> summary` defaults to `train_and_evaluate`.
  """
  if train_fn is None:
    from unet_flax import train  # pylint: disable=g-import-not-at-top
    train_fn = train.train_and_evaluate
  runs = grid_cells(config)
  for f, d, s in runs:   # Fail on a bad cell, or a run made with another config, before training.
    check_same_config(run_dir(workdir, f, d, s), cell_config(config, f, d, s))
  num_steps = config.base.num_train_steps
  rows, trained_seconds, trained = [], 0.0, 0
  todo = sum(finished_summary(run_dir(workdir, *r), num_steps) is None for r in runs)
  start = time.perf_counter()
  for k, (f, d, s) in enumerate(runs, 1):
    path = run_dir(workdir, f, d, s)
    summary = finished_summary(path, num_steps)
    status = 'done before'
    if summary is None:
      run_start = time.perf_counter()
      train_fn(cell_config(config, f, d, s), path)
      trained += 1
      trained_seconds += time.perf_counter() - run_start
      summary = finished_summary(path, num_steps)
      if summary is None:
        raise RuntimeError(f'{path}: train_and_evaluate returned without a summary.json at step '
                           f'{num_steps}')
      status = f'trained in {time.perf_counter() - run_start:.0f} s'
    row = run_row(f, d, s, summary, path)
    rows.append(row)
    left = todo - trained
    eta = (f'ETA {trained_seconds / trained * left / 60:.1f} min' if trained and left
           else 'ETA 0 min' if not left else 'ETA ?')
    step_ms = f"{row['step_time_ms']:.1f} ms/step" if row['step_time_ms'] else 'step time n/a'
    log(f"[{k}/{len(runs)}] filters={f} depth={d} seed={s}: IoU {row['iou']:.4f}, "
        f"Dice {row['dice']:.4f}, {row['num_params']:,} params, {step_ms} ({status}); "
        f"elapsed {(time.perf_counter() - start) / 60:.1f} min, {eta}")
  return rows


def read_runs_csv(path: str, config=None) -> list[dict]:
  """The rows of a `<name>_runs.csv` that `write_results` wrote, as `run_grid` returned them: the
  tables and plots rebuild from it without training. With `config`, its runs must be exactly the
  grid's (ValueError otherwise), so that the table's description fits them."""
  with open(path, newline='') as f:
    reader = csv.DictReader(f)
    if tuple(reader.fieldnames or ()) != RUN_COLUMNS:
      raise ValueError(f'{path}: columns {reader.fieldnames}; expected {list(RUN_COLUMNS)}')
    rows = [{k: None if v == '' else int(v) if k in _INT_RUN_COLUMNS else float(v)
             for k, v in r.items()} for r in reader]
  if config is not None:
    found = sorted((r['base_filters'], r['depth'], r['seed']) for r in rows)
    if found != sorted(grid_cells(config)):
      raise ValueError(f'{path} holds the runs {found}, not the (filters, depth, seed) of '
                       f'{config.name}\'s grid {sorted(grid_cells(config))}')
  return rows


# ---------------------------------------------------------------------------------------------
# Statistics over seeds.
# ---------------------------------------------------------------------------------------------

def t_quantile(p: float, dof: int) -> float:
  """Student t quantile: P(T <= value) = p with `dof` degrees of freedom."""
  from scipy import stats  # pylint: disable=g-import-not-at-top
  return float(stats.t.ppf(p, dof))


def seed_stats(values) -> dict:
  """{'mean', 'std', 'ci95', 'n'} over seeds: the sample standard deviation (ddof=1) and the half
  width of the mean's 95% confidence interval, t(0.975, n-1) * sd / sqrt(n); both None for fewer
  than 2 values (one seed says nothing of the spread), everything None for none."""
  values = [v for v in values if v is not None]
  n = len(values)
  if n < 2:
    return {'mean': float(values[0]) if n else None, 'std': None, 'ci95': None, 'n': n}
  std = float(np.std(values, ddof=1))
  return {'mean': float(np.mean(values)), 'std': std,
          'ci95': t_quantile(0.975, n - 1) * std / math.sqrt(n), 'n': n}


def _mean(values):
  return seed_stats(values)['mean']


def aggregate(rows: list[dict]) -> list[dict]:
  """Per-run rows -> one row per (base_filters, depth) cell (CELL_COLUMNS)."""
  cells = {}
  for r in rows:
    cells.setdefault((r['base_filters'], r['depth']), []).append(r)
  out = []
  for (f, d), rs in sorted(cells.items()):
    times = [r['step_time_ms'] for r in rs if r['step_time_ms'] is not None]
    flops = _mean([r['flops_per_step'] for r in rs])
    iou, dice = (seed_stats([r[k] for r in rs]) for k in ('iou', 'dice'))
    out.append({
        'base_filters': f, 'depth': d, 'num_params': rs[0]['num_params'],
        'gflops_per_step': None if flops is None else flops / 1e9,
        'step_time_ms': float(np.median(times)) if times else None,
        'step_time_ms_spread': (max(times) - min(times)) if times else None,
        'iou_mean': iou['mean'], 'iou_std': iou['std'], 'iou_ci95': iou['ci95'],
        'dice_mean': dice['mean'], 'dice_std': dice['std'], 'dice_ci95': dice['ci95'],
        'per_image_iou_p10': _mean([r['per_image_iou_p10'] for r in rs]),
        'per_image_iou_median': _mean([r['per_image_iou_median'] for r in rs]),
        'per_image_iou_p90': _mean([r['per_image_iou_p90'] for r in rs]),
        'num_seeds': len(rs),
    })
  return out


def difference(first: dict, second: dict) -> dict:
  """Mean IoU of `second` minus `first`, its standard error sqrt(sd1²/n1 + sd2²/n2) over seeds,
  and whether it is resolved (|difference| > RESOLVED_SE standard errors; None when a cell has
  one seed, so no spread to compare it with)."""
  diff = second['iou_mean'] - first['iou_mean']
  if first['iou_std'] is None or second['iou_std'] is None:
    return {'diff': diff, 'se': None, 'resolved': None}
  se = math.sqrt(first['iou_std']**2 / first['num_seeds']
                 + second['iou_std']**2 / second['num_seeds'])
  return {'diff': diff, 'se': se, 'resolved': abs(diff) > RESOLVED_SE * se}


def axis_comparisons(cells: list[dict], axis: str) -> list[dict]:
  """Along `axis` ('base_filters' or 'depth'), at each value of the other: every pair of
  neighbouring cells and the axis' two ends (when they are not neighbours), each a `difference`
  with 'fixed' (the other axis' value), 'first', 'second' and 'ends'."""
  other = 'depth' if axis == 'base_filters' else 'base_filters'
  out = []
  for fixed in sorted({c[other] for c in cells}):
    line = sorted((c for c in cells if c[other] == fixed), key=lambda c: c[axis])
    pairs = list(zip(line, line[1:]))
    if len(line) > 2:
      pairs.append((line[0], line[-1]))
    for first, second in pairs:
      out.append({'fixed': fixed, 'first': first[axis], 'second': second[axis],
                  'ends': len(line) > 2 and (first, second) == (line[0], line[-1]),
                  **difference(first, second)})
  return out


# ---------------------------------------------------------------------------------------------
# Outputs.
# ---------------------------------------------------------------------------------------------

def _write_csv(path: str, rows: list[dict], columns) -> None:
  with open(path, 'w', newline='') as f:
    writer = csv.DictWriter(f, fieldnames=list(columns))
    writer.writeheader()
    for r in rows:
      writer.writerow({k: ('' if r.get(k) is None else
                           f'{r[k]:.6g}' if isinstance(r[k], float) else r[k]) for k in columns})


def _fmt(v, spec: str) -> str:
  return 'n/a' if v is None else format(v, spec)


def markdown_table(cells: list[dict]) -> str:
  def mean_ci(c, key):
    return (f"{_fmt(c[f'{key}_mean'], '.3f')} ± {_fmt(c[f'{key}_ci95'], '.3f')} "
            f"({_fmt(c[f'{key}_std'], '.3f')})")
  lines = ['| filters | depth | params | GFLOPs/step | step time (ms) '
           '| val IoU: mean ± 95% CI (sd) | val Dice: mean ± 95% CI (sd) '
           '| per-image IoU p10 / median / p90 | seeds |',
           '|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
  for c in cells:
    lines.append(
        f"| {c['base_filters']} | {c['depth']} | {c['num_params']:,} "
        f"| {_fmt(c['gflops_per_step'], '.2f')} | {_fmt(c['step_time_ms'], '.1f')} "
        f"| {mean_ci(c, 'iou')} | {mean_ci(c, 'dice')} "
        f"| {_fmt(c['per_image_iou_p10'], '.2f')} / {_fmt(c['per_image_iou_median'], '.2f')} / "
        f"{_fmt(c['per_image_iou_p90'], '.2f')} | {c['num_seeds']} |")
  seeds = sorted({c['num_seeds'] for c in cells if c['num_seeds'] > 1})
  t_values = ', '.join(f't = {t_quantile(0.975, n - 1):.2f} for {n} seeds' for n in seeds)
  lines += ['', 'The 95% confidence interval of a mean over n seeds is mean ± t(0.975, n-1) * sd '
            f'/ sqrt(n) ({t_values or "n/a with 1 seed"}); sd is the seeds\' sample standard '
            'deviation.']
  return '\n'.join(lines) + '\n'


def markdown_comparisons(cells: list[dict]) -> str:
  """Per axis, the `axis_comparisons` as tables, and how many are resolved."""
  sections = []
  for axis, title, other_label in (('base_filters', 'Filters at each depth', 'depth'),
                                   ('depth', 'Depth at each filter count', 'filters')):
    comparisons = axis_comparisons(cells, axis)
    if not comparisons:
      continue
    assessed = [c for c in comparisons if c['resolved'] is not None]
    lines = [f'### {title}', '',
             f'{sum(c["resolved"] for c in assessed)} of {len(assessed)} differences resolved'
             + (f' ({len(comparisons) - len(assessed)} not assessable: a cell with 1 seed)'
                if len(assessed) < len(comparisons) else '') + '.', '',
             f'| {other_label} | {"filters" if axis == "base_filters" else "depth"} '
             '| Δ mean IoU | SE | resolved |',
             '|---:|:---|---:|---:|:---|']
    for c in comparisons:
      resolved = 'n/a (1 seed)' if c['resolved'] is None else 'yes' if c['resolved'] else 'no'
      lines.append(f"| {c['fixed']} | {c['first']} → {c['second']}{' (ends)' if c['ends'] else ''} "
                   f"| {c['diff']:+.3f} | {_fmt(c['se'], '.3f')} | {resolved} |")
    sections.append('\n'.join(lines) + '\n')
  if not sections:
    return ''
  return ('## Differences between cells\n\n'
          'Δ mean IoU: the second cell\'s mean validation IoU minus the first\'s; SE = '
          'sqrt(sd1²/n1 + sd2²/n2) over seeds; resolved when |Δ| > '
          f'{RESOLVED_SE:g} SE.\n\n' + '\n'.join(sections))


def _heatmap(ax, cells, key, title, fmt, cmap, ci_key=None):
  filters = sorted({c['base_filters'] for c in cells})
  depths = sorted({c['depth'] for c in cells})
  grid = np.full((len(filters), len(depths)), np.nan)
  ci = {}
  for c in cells:
    if c[key] is not None:
      grid[filters.index(c['base_filters']), depths.index(c['depth'])] = c[key]
    if ci_key and c[ci_key] is not None:
      ci[filters.index(c['base_filters']), depths.index(c['depth'])] = c[ci_key]
  image = ax.imshow(grid, cmap=cmap, origin='lower', aspect='auto')
  ax.set_xticks(range(len(depths)), [str(d) for d in depths])
  ax.set_yticks(range(len(filters)), [str(f) for f in filters])
  ax.set_xlabel('depth (levels)')
  ax.set_ylabel('base_filters')
  ax.set_title(title)
  finite = grid[np.isfinite(grid)]
  middle = (finite.min() + finite.max()) / 2 if finite.size else 0
  for i in range(len(filters)):
    for j in range(len(depths)):
      if np.isfinite(grid[i, j]):
        text = format(grid[i, j], fmt) + (f'\n± {ci[i, j]:{fmt}}' if (i, j) in ci else '')
        ax.text(j, i, text, ha='center', va='center', fontsize=9,
                color='white' if (grid[i, j] < middle) == (cmap == 'viridis') else 'black')
  ax.figure.colorbar(image, ax=ax, shrink=0.85)


def write_plots(cells: list[dict], rows: list[dict], out_dir: str, name: str,
                subtitle: str = '') -> list[str]:
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  paths = []
  # IoU against parameters: one line per depth, seeds as points, cell means with 95% CIs.
  fig, ax = plt.subplots(figsize=(7, 4.5))
  depths = sorted({c['depth'] for c in cells})
  colors = plt.get_cmap('viridis')(np.linspace(0, 0.85, max(len(depths), 1)))
  for color, d in zip(colors, depths):
    cs = sorted((c for c in cells if c['depth'] == d), key=lambda c: c['num_params'])
    ax.errorbar([c['num_params'] for c in cs], [c['iou_mean'] for c in cs],
                yerr=[np.nan if c['iou_ci95'] is None else c['iou_ci95'] for c in cs],
                color=color, marker='o', capsize=3, label=f'depth {d}')
    rs = [r for r in rows if r['depth'] == d]
    ax.scatter([r['num_params'] for r in rs], [r['iou'] for r in rs], color=color, s=10,
               alpha=0.5)
    for c in cs:
      ax.annotate(f"f{c['base_filters']}", (c['num_params'], c['iou_mean']),
                  textcoords='offset points', xytext=(4, -10), fontsize=7, color=color)
  # IoU lies in [0, 1]; intervals from few seeds can reach past it, and are cut there.
  low, high = ax.get_ylim()
  ax.set_ylim(max(low, -0.02), min(high, 1.02))
  ax.set_xscale('log')
  ax.set_xlabel('parameters (log scale)')
  ax.set_ylabel('validation IoU (person)')
  ax.set_title(f'{name}: IoU vs parameters (mean ± 95% CI over seeds; dots = seeds)'
               + (f'\n{subtitle}' if subtitle else ''), fontsize=10)
  ax.grid(True, which='both', alpha=0.3)
  ax.legend()
  fig.tight_layout()
  paths.append(os.path.join(out_dir, f'{name}_iou_vs_params.png'))
  fig.savefig(paths[-1], dpi=110)
  plt.close(fig)

  # Heat maps: IoU and step time over filters x depth.
  fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
  _heatmap(axes[0], cells, 'iou_mean', 'validation IoU (mean ± 95% CI over seeds)', '.3f',
           'viridis', ci_key='iou_ci95')
  _heatmap(axes[1], cells, 'step_time_ms', 'train step time (ms, median over seeds)', '.1f',
           'magma_r')
  if subtitle:
    fig.suptitle(subtitle, fontsize=10)
  fig.tight_layout()
  paths.append(os.path.join(out_dir, f'{name}_heatmaps.png'))
  fig.savefig(paths[-1], dpi=110)
  plt.close(fig)
  return paths


def write_results(rows: list[dict], out_dir: str, name: str = 'ablation',
                  subtitle: str = '') -> dict:
  """Writes `<name>.csv`, `<name>_runs.csv`, `<name>.md` and the PNG plots; returns their paths."""
  os.makedirs(out_dir, exist_ok=True)
  cells = aggregate(rows)
  paths = {'csv': os.path.join(out_dir, f'{name}.csv'),
           'runs_csv': os.path.join(out_dir, f'{name}_runs.csv'),
           'md': os.path.join(out_dir, f'{name}.md')}
  _write_csv(paths['csv'], cells, CELL_COLUMNS)
  _write_csv(paths['runs_csv'], rows, RUN_COLUMNS)
  with open(paths['md'], 'w') as f:
    comparisons = markdown_comparisons(cells)
    f.write(f'# {name}\n\n' + (f'{subtitle}\n\n' if subtitle else '') + markdown_table(cells)
            + (f'\n{comparisons}' if comparisons else ''))
  paths['iou_vs_params'], paths['heatmaps'] = write_plots(cells, rows, out_dir, name, subtitle)
  return paths


def describe(config) -> str:
  """One line: what every cell of the grid shares."""
  b = config.base
  return (f"{b.data.name}/{b.data.builder_config} at {b.data.image_size}px, batch {b.batch_size}, "
          f"{b.num_train_steps} steps, {b.optimizer.name} lr {b.optimizer.learning_rate}, "
          f"seeds {tuple(config.grid.seeds)}")
