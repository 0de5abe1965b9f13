r"""U-Net ablation over `base_filters` x `depth` x seeds: one command -> CSV, Markdown table, plots.

  python experiments/ablate_unet.py --config configs/ablation_cpu.py
  python experiments/ablate_unet.py --config configs/ablation_tpu.py \
      --workdir gs://.../ablation_tpu --results experiments/results
  python experiments/ablate_unet.py --config configs/ablation_cpu.py \
      --from_runs_csv experiments/results/ablation_cpu_runs.csv    # rebuild, no training

Each (cell, seed) is a `train_and_evaluate` run in `<workdir>/f{filters}_d{depth}_s{seed}`;
running the command again trains only what is not finished (a run started with another config,
e.g. a changed --config.base.x, is an error naming the keys: use a new --workdir). Writes
`<name>.csv`, `<name>_runs.csv`, `<name>.md` (per cell the mean, 95% confidence interval and sd
over seeds; per axis which differences are resolved) and two PNG plots in --results.
--from_runs_csv rebuilds them from a previous `<name>_runs.csv` instead of training.

This main is intentionally kept short: the grid runner, the aggregation and the writers are in
`unet_flax/ablation.py` (tests and the Colab notebook call them there).
"""
import os
import sys
import time

from absl import flags
from ml_collections import config_flags

from unet_flax import ablation
from unet_flax import runtime

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None, 'Root of the per-run workdirs '
                    '(default experiments/runs/<config.name>).')
flags.DEFINE_string('results', None, 'Where the CSV/Markdown/PNG results go '
                    '(default experiments/results).')
flags.DEFINE_string('from_runs_csv', None, 'Rebuild the results from this `<name>_runs.csv` (its '
                    'runs must be the grid\'s) instead of training.')
config_flags.DEFINE_config_file('config', os.path.join(REPO, 'configs', 'ablation_cpu.py'),
                                'Ablation config: `base` (a unet config) and `grid`.')


def train_grid(config) -> list[dict]:
  """Trains what is not finished yet; one row per run."""
  runtime.setup()
  import jax  # pylint: disable=g-import-not-at-top
  workdir = FLAGS.workdir or os.path.join(REPO, 'experiments', 'runs', config.name)
  print(f'{config.name}: {len(ablation.grid_cells(config))} runs ({ablation.describe(config)}) on '
        f'{jax.device_count()} x {jax.devices()[0].platform}; workdir {workdir}', flush=True)
  return ablation.run_grid(config, workdir, log=lambda line: print(line, flush=True))


def main(argv):
  del argv
  config = FLAGS.config
  start = time.perf_counter()
  try:
    rows = (ablation.read_runs_csv(FLAGS.from_runs_csv, config) if FLAGS.from_runs_csv
            else train_grid(config))
  except (ValueError, OSError) as e:   # Bad config / workdir: one line, like train.py.
    print('error: ' + ' '.join(str(e).split()), file=sys.stderr)
    sys.exit(1)
  results = FLAGS.results or os.path.join(REPO, 'experiments', 'results')
  paths = ablation.write_results(rows, results, config.name, ablation.describe(config))
  print(f'{config.name}: {len(rows)} runs in {(time.perf_counter() - start) / 60:.1f} min; wrote '
        + ', '.join(os.path.relpath(p) for p in paths.values()), flush=True)


if __name__ == '__main__':
  runtime.run_app(main)
