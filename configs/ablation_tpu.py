"""U-Net ablation, TPU-sized: base_filters 8/16/32/64 x depth 2/3/4/5, 3 seeds (48 runs).

Command (on a TPU VM or Colab TPU runtime; every run is data-parallel over all TPU cores through
the same sharded `train_and_evaluate` as the main job, so the batch must be a multiple of the
core count: 64 = 8 x 8 on a v2-8/v3-8/v5e-8):
  python experiments/ablate_unet.py --config configs/ablation_tpu.py

Same data, resolution, steps and schedule for every cell: the 'default' person_composite dataset
at 128x128 (a multiple of 2**(5-1)), batch 64, 2000 steps (~107 epochs), AdamW warm-up + cosine,
bfloat16 compute with float32 parameters.
On 2 CPU cores this grid would take days; see experiments/README.md.

On one GPU, the same command (the batch of 64 then runs on one device; Grain workers feed it):
  python experiments/ablate_unet.py --config configs/ablation_tpu.py \
      --config.base.data.worker_count=8 --results experiments/results/h200
Expected time on one H200 (estimated, not yet run): about 1.5 hours for the 48 runs. Each run is
128,000 images (2000 steps x 64). On an H200 the float32 train step at 128 px, batch 8, ran
2,860 img/s for 16 filters at depth 4 and 2,328 img/s for 32 filters at depth 5
(configs/unet_seed.py; benchmarks/README.md, 2026-11-30): about 1 minute of steps per run up to
32 filters. The 64-filter cells have ~4x the FLOPs of 32: ~2-3 minutes each. Add ~20 s of
compilation and evaluation per run. The loader must deliver ~2,500 img/s at 128 px
(benchmarks/input_pipeline.py gives its rate per worker).
"""
import ml_collections

from configs import unet_scratch


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.name = 'ablation_tpu'

  base = unet_scratch.get_config()
  base.data.builder_config = 'default'
  base.data.image_size = 128
  base.batch_size = 64
  base.dtype = 'bfloat16'              # bf16 compute on the TPU's MXUs; float32 parameters
  base.eval_batch_size = 40            # divides the 200 validation images; a multiple of 8
  base.num_train_steps = 2000
  base.optimizer.warmup_steps = 100
  base.log_every_steps = 50
  base.eval_every_steps = 500
  base.checkpoint_every_steps = 500
  base.keep_checkpoints = 1
  base.num_eval_images = 4
  config.base = base

  config.grid = ml_collections.ConfigDict(dict(
      base_filters=(8, 16, 32, 64),
      depths=(2, 3, 4, 5),
      seeds=(0, 1, 2),
  ))
  return config
