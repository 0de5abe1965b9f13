"""unet_flax.ablation: a 2 x 1 grid on the tiny dataset -> CSV/Markdown/PNGs; re-runs train
nothing; an interrupted grid (between runs and inside a run) resumes where it stopped; means,
confidence intervals and resolved differences over seeds; the committed results rebuild from
their runs CSV (experiments/ablate_unet.py --from_runs_csv)."""
import csv
import json
import os
import subprocess
import sys

import ml_collections
import pytest

from conftest import REPO, tiny_unet_config
from unet_flax import ablation
from unet_flax import input_pipeline
from unet_flax import train


def _ablation_config(data_dir):
  config = ml_collections.ConfigDict()
  config.name = 'ablation_test'
  config.base = tiny_unet_config(data_dir)
  config.base.num_train_steps = 4
  config.base.eval_every_steps = 4
  config.base.checkpoint_every_steps = 2
  config.base.log_every_steps = 1
  config.grid = ml_collections.ConfigDict(dict(base_filters=(4, 8), depths=(2,), seeds=(0,)))
  return config


class _CountingTrainer:
  """train_and_evaluate, counting its calls per run workdir."""

  def __init__(self):
    self.calls = []

  def __call__(self, config, workdir):
    self.calls.append(os.path.basename(workdir))
    return train.train_and_evaluate(config, workdir)


def test_grid_writes_table_and_plots_and_a_rerun_trains_nothing(tiny_data_dir, tmp_path):
  config = _ablation_config(tiny_data_dir)
  workdir, out = str(tmp_path / 'runs'), str(tmp_path / 'results')
  trainer, lines = _CountingTrainer(), []
  rows = ablation.run_grid(config, workdir, train_fn=trainer, log=lines.append)
  assert trainer.calls == ['f4_d2_s0', 'f8_d2_s0']
  assert [l.split(']')[0] for l in lines] == ['[1/2', '[2/2'] and 'ETA' in lines[0]

  paths = ablation.write_results(rows, out, 'ablation_test', ablation.describe(config))
  assert sorted(os.listdir(out)) == sorted(os.path.basename(p) for p in paths.values())
  cells = list(csv.DictReader(open(paths['csv'])))
  assert tuple(cells[0]) == ablation.CELL_COLUMNS
  assert [(c['base_filters'], c['depth']) for c in cells] == [('4', '2'), ('8', '2')]
  for c in cells:
    assert int(c['num_params']) > 0 and float(c['gflops_per_step']) > 0
    assert float(c['step_time_ms']) > 0 and 0 <= float(c['iou_mean']) <= 1
    assert c['iou_std'] == c['iou_ci95'] == '' and c['num_seeds'] == '1'  # 1 seed: no spread
  assert int(cells[1]['num_params']) > int(cells[0]['num_params'])
  runs = list(csv.DictReader(open(paths['runs_csv'])))
  assert tuple(runs[0]) == ablation.RUN_COLUMNS and len(runs) == 2
  table = open(paths['md']).read()
  assert table.count('\n| 4 | 2 |') == 1 and 'val IoU: mean ± 95% CI (sd)' in table
  assert '± n/a (n/a)' in table and '| 2 | 4 → 8 |' in table and '| n/a (1 seed) |' in table
  for key in ('iou_vs_params', 'heatmaps'):
    assert open(paths[key], 'rb').read(8) == b'\x89PNG\r\n\x1a\n'

  # The runs CSV reads back as the rows it was written from (to 6 significant digits).
  for read, row in zip(ablation.read_runs_csv(paths['runs_csv'], config), rows, strict=True):
    assert read == pytest.approx(row, rel=1e-5)

  # The same command again: every run is finished, nothing is trained, the rows are the same.
  summary_mtime = os.path.getmtime(os.path.join(workdir, 'f4_d2_s0', 'summary.json'))
  again = _CountingTrainer()
  assert ablation.run_grid(config, workdir, train_fn=again, log=lines.append) == rows
  assert again.calls == [] and 'done before' in lines[-1]
  assert os.path.getmtime(os.path.join(workdir, 'f4_d2_s0', 'summary.json')) == summary_mtime

  # A changed base config does not silently reuse runs made with the old one.
  config.base.optimizer.learning_rate = 1e-2
  with pytest.raises(ValueError, match='f4_d2_s0.*optimizer.learning_rate=0.002.*now.*0.01'):
    ablation.run_grid(config, workdir, train_fn=again, log=lines.append)
  assert again.calls == []


def test_interrupted_grid_continues_where_it_stopped(tiny_data_dir, tmp_path, monkeypatch):
  config = _ablation_config(tiny_data_dir)
  config.grid.base_filters = (4, 8, 12)
  workdir = str(tmp_path / 'runs')

  # Interrupted (Ctrl-C) inside the second run, after its step-2 checkpoint.
  batches, next_batch = input_pipeline.train_batches, input_pipeline.TrainBatches.__next__
  starts = []

  def recorded_batches(split, start_step, *args, **kwargs):
    starts.append(start_step)
    return batches(split, start_step, *args, **kwargs)

  def interrupted_next(loader):
    if len(starts) == 2 and loader.step + 1 == 4:
      raise KeyboardInterrupt
    return next_batch(loader)

  monkeypatch.setattr(input_pipeline, 'train_batches', recorded_batches)
  monkeypatch.setattr(input_pipeline.TrainBatches, '__next__', interrupted_next)
  first = _CountingTrainer()
  with pytest.raises(KeyboardInterrupt):
    ablation.run_grid(config, workdir, train_fn=first, log=lambda _: None)
  assert first.calls == ['f4_d2_s0', 'f8_d2_s0'] and starts == [0, 0]
  assert not os.path.exists(os.path.join(workdir, 'f8_d2_s0', 'summary.json'))

  # Run again: the finished run is skipped, the interrupted one resumes from its checkpoint
  # (step 3: the trainer saves on Ctrl-C), the third one starts.
  second = _CountingTrainer()
  rows = ablation.run_grid(config, workdir, train_fn=second, log=lambda _: None)
  assert second.calls == ['f8_d2_s0', 'f12_d2_s0'] and starts[2:] == [3, 0]
  assert [(r['base_filters'], r['depth'], r['seed']) for r in rows] == [
      (4, 2, 0), (8, 2, 0), (12, 2, 0)]
  for name in ('f4_d2_s0', 'f8_d2_s0', 'f12_d2_s0'):
    assert json.load(open(os.path.join(workdir, name, 'summary.json')))['step'] == 4


def test_aggregate_means_spreads_and_step_time(tmp_path):
  rows = [dict(base_filters=8, depth=3, seed=s, num_params=100, flops_per_step=2e9,
               step_time_ms=t, iou=iou, dice=iou + 0.1, best_iou=iou, per_image_iou_p10=0.1,
               per_image_iou_median=0.5, per_image_iou_p90=0.9, train_seconds=1.0, devices=1)
          for s, t, iou in ((0, 10.0, 0.6), (1, 14.0, 0.8))]
  (cell,) = ablation.aggregate(rows)
  assert cell['iou_mean'] == pytest.approx(0.7) and cell['iou_std'] == pytest.approx(0.1414, 1e-3)
  # 95% CI half width: t(0.975, 1) * sd / sqrt(2) = 12.706 * 0.1.
  assert cell['iou_ci95'] == pytest.approx(1.2706, 1e-4)
  assert ablation.t_quantile(0.975, 4) == pytest.approx(2.7764, 1e-4)
  (one,) = ablation.aggregate(rows[:1])
  assert one['iou_mean'] == 0.6 and one['iou_std'] is None and one['iou_ci95'] is None
  assert cell['step_time_ms'] == 12.0 and cell['step_time_ms_spread'] == 4.0
  assert cell['gflops_per_step'] == 2.0 and cell['num_seeds'] == 2

  # Step time: the median of 1 / steps_per_second over the logged intervals, the first excluded.
  with open(tmp_path / 'metrics.jsonl', 'w') as f:
    for step, rate in ((1, 1.0), (2, 10.0), (3, 20.0), (4, 5.0)):
      f.write(json.dumps({'step': step, 'split': 'train', 'steps_per_second': rate}) + '\n')
    f.write(json.dumps({'step': 4, 'split': 'eval', 'iou': 0.5}) + '\n')
  assert ablation.measured_step_time(str(tmp_path)) == pytest.approx(0.1)


def _cell(filters, depth, mean, std, seeds=2):
  return dict(base_filters=filters, depth=depth, iou_mean=mean, iou_std=std, num_seeds=seeds)


def test_neighbours_and_ends_of_each_axis_are_compared_with_their_standard_error():
  cells = [_cell(8, 2, 0.2, 0.01), _cell(16, 2, 0.3, 0.1), _cell(32, 2, 0.5, 0.02),
           _cell(8, 3, 0.25, None, seeds=1)]
  by_filters = ablation.axis_comparisons(cells, 'base_filters')
  assert [(c['fixed'], c['first'], c['second'], c['ends']) for c in by_filters] == [
      (2, 8, 16, False), (2, 16, 32, False), (2, 8, 32, True)]
  # SE = sqrt(sd1^2/n1 + sd2^2/n2); resolved when |difference| > 2 SE.
  (small, large, ends) = by_filters
  assert small['diff'] == pytest.approx(0.1) and small['se'] == pytest.approx(0.07106, 1e-3)
  assert small['resolved'] is False
  assert large['se'] == pytest.approx(0.07211, 1e-3) and large['resolved'] is True
  assert ends['diff'] == pytest.approx(0.3) and ends['resolved'] is True
  # Depth at 8 filters: 2 -> 3, where the depth-3 cell has one seed and so no spread.
  (depth,) = ablation.axis_comparisons(cells, 'depth')
  assert (depth['fixed'], depth['first'], depth['second'], depth['se'], depth['resolved']) == (
      8, 2, 3, None, None)
  text = ablation.markdown_comparisons(cells)
  assert '### Filters at each depth\n\n2 of 3 differences resolved.' in text
  assert '| 2 | 8 → 32 (ends) | +0.300 | 0.016 | yes |' in text
  assert '1 not assessable' in text and '| 8 | 2 → 3 | +0.050 | n/a | n/a (1 seed) |' in text


def test_runs_csv_of_another_grid_is_refused(tmp_path):
  from configs import ablation_cpu
  runs_csv = os.path.join(REPO, 'experiments', 'results', 'ablation_cpu_runs.csv')
  config = ablation_cpu.get_config()
  config.grid.seeds = (0, 1, 2, 3)  # the committed grid has seeds 0-2
  with pytest.raises(ValueError, match=r'ablation_cpu_runs.csv holds the runs .*not the'):
    ablation.read_runs_csv(runs_csv, config)
  (tmp_path / 'other.csv').write_text('a,b\n1,2\n')
  with pytest.raises(ValueError, match='columns'):
    ablation.read_runs_csv(str(tmp_path / 'other.csv'))


def test_committed_results_rebuild_from_their_runs_csv(tmp_path):
  results = os.path.join(REPO, 'experiments', 'results')
  result = subprocess.run(
      [sys.executable, 'experiments/ablate_unet.py', '--config', 'configs/ablation_cpu.py',
       '--from_runs_csv', os.path.join(results, 'ablation_cpu_runs.csv'),
       '--results', str(tmp_path)], cwd=REPO, capture_output=True, text=True)
  assert result.returncode == 0, result.stderr[-2000:]
  for name in ('ablation_cpu.md', 'ablation_cpu.csv', 'ablation_cpu_runs.csv'):
    assert open(tmp_path / name).read() == open(os.path.join(results, name)).read(), name
  assert os.path.getsize(tmp_path / 'ablation_cpu_heatmaps.png') > 0


def test_configs_load_and_every_cell_is_valid():
  from configs import ablation_cpu, ablation_tpu
  for module, runs in ((ablation_cpu, 27), (ablation_tpu, 48)):
    config = module.get_config()
    cells = ablation.grid_cells(config)
    assert len(cells) == runs
    for f, d, s in cells:
      cell = ablation.cell_config(config, f, d, s)
      assert (cell.model.base_filters, cell.model.head_filters, cell.model.depth, cell.seed) == (
          f, f, d, s)
      train.validate_config(cell, 8 if module is ablation_tpu else 1)
