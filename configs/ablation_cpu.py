"""U-Net ablation, CPU-sized default: base_filters 8/16/32 x depth 2/3/4, 2 seeds (18 runs).

Command (resumable: run it again and finished cells are not trained again):
  python experiments/ablate_unet.py --config configs/ablation_cpu.py

Writes experiments/results/ablation_cpu.{csv,md}, ablation_cpu_runs.csv and the PNG plots; runs
live in experiments/runs/ablation_cpu/f{filters}_d{depth}_s{seed} (gitignored).
Every run: the 'default' person_composite dataset (1200 train / 200 validation composites) at
64x64, batch 16, 200 steps (2.7 epochs), AdamW warm-up + cosine, one evaluation at the end.
Measured (dataset 4.0.0, 2 idle CPU cores, 2026-11-24): 17.5 min for the 18 runs (about 14 min of
it training steps); IoU 0.175-0.247 in every cell, within the seeds' spread (experiments/README.md).
A re-run with every run finished trains nothing and takes ~15 s (it reads the summaries back and
rewrites the same results). Without the runs, the results rebuild from the runs CSV:
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
  base.data.image_size = 64            # a multiple of 2**(depth-1) for every depth in the grid
  base.batch_size = 16
  base.eval_batch_size = 40            # 200 validation images = 5 batches
  base.num_train_steps = 200
  base.optimizer.warmup_steps = 20
  base.log_every_steps = 20
  base.eval_every_steps = 200          # evaluate once, at the end (the number the table reports)
  base.checkpoint_every_steps = 100    # an interrupted cell loses at most 100 steps
  base.keep_checkpoints = 1
  base.num_eval_images = 4
  config.base = base

  config.grid = ml_collections.ConfigDict(dict(
      base_filters=(8, 16, 32),
      depths=(2, 3, 4),
      seeds=(0, 1),
  ))
  return config
