"""U-Net ablation, CPU-sized default: base_filters 4/8/16 x depth 2/3/4, 3 seeds (27 runs).

Command (resumable: run it again and finished cells are not trained again):
  python experiments/ablate_unet.py --config configs/ablation_cpu.py

Writes experiments/results/ablation_cpu.{csv,md}, ablation_cpu_runs.csv and the PNG plots; runs
live in experiments/runs/ablation_cpu/f{filters}_d{depth}_s{seed} (gitignored).
Every run: the 'default' person_composite dataset (1200 train / 200 validation composites) at
96x96, batch 16, 300 steps (4 epochs), AdamW warm-up + cosine, one evaluation at the end.
Measured (dataset 7.0.0, 2026-12-03): the smallest and largest filter counts are told apart at
every depth (4 -> 16 filters: +0.13, +0.23, +0.18 IoU, at 4.8, 3.1 and 2.4 standard errors);
depth is resolved only for 8 filters, 2 -> 4. Time on 2 idle CPU cores: 12.7 min for seed 0's 9
runs (`--config.grid.seeds="(0,)"`, the same IoUs to the bit), so ~38 min for the 27; 56.9 min on
cores shared with two test-suite runs. Table: experiments/results/ablation_cpu.md.
A re-run with every run finished trains nothing (it reads the summaries back and rewrites the
same results). Without the runs, the results rebuild from the runs CSV:
  python experiments/ablate_unet.py --config configs/ablation_cpu.py \
      --from_runs_csv experiments/results/ablation_cpu_runs.csv
"""
import ml_collections

from configs import unet_scratch


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.name = 'ablation_cpu'

  # The unet config every cell starts from (same data, steps and schedule for all cells); the
  # grid then sets model.base_filters = model.head_filters, model.depth and seed.
  base = unet_scratch.get_config()
  base.data.builder_config = 'default'
  # 96 px, not 64: people of a few pixels at 64 px left every cell near 0.2 IoU.
  base.data.image_size = 96            # a multiple of 2**(depth-1) for every depth in the grid
  base.batch_size = 16
  base.eval_batch_size = 40            # 200 validation images = 5 batches
  base.num_train_steps = 300
  base.optimizer.warmup_steps = 30
  base.log_every_steps = 25
  base.eval_every_steps = 300          # evaluate once, at the end (the number the table reports)
  base.checkpoint_every_steps = 150    # an interrupted cell loses at most 150 steps
  base.keep_checkpoints = 1
  base.num_eval_images = 4
  config.base = base

  config.grid = ml_collections.ConfigDict(dict(
      base_filters=(4, 8, 16),
      depths=(2, 3, 4),
      seeds=(0, 1, 2),
  ))
  return config
