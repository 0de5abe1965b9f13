"""Person U-Net on COCO 2017 panoptic person masks (users with internet; an accelerator advised).

Command:
  python train.py --config configs/unet_coco.py --workdir workdirs/unet_coco

The first run downloads and prepares TFDS `coco/2017_panoptic` (~20 GiB, 118k train / 5k val
images) into `config.data.data_dir` (default ~/tensorflow_datasets) as array_record; each
example's mask is the union of its `person` (label 0) panoptic segments
(unet_flax/datasets/coco_person.py). On one TPU/GPU the 20k steps take about an hour; on a CPU,
days. Expected validation person IoU: ~0.7 for this from-scratch 32-filter U-Net (not measured
here: no internet on the development machines).
"""
from configs import unet_scratch


def get_config():
  config = unet_scratch.get_config()
  config.data.name = 'coco_person'
  config.data.builder_config = None
  config.data.image_size = 256
  config.model.update(base_filters=32, depth=5, head_filters=32, dropout=0.2)
  config.batch_size = 32
  config.eval_batch_size = 32
  config.num_train_steps = 20_000
  config.optimizer.learning_rate = 1e-3
  config.optimizer.warmup_steps = 500
  config.eval_every_steps = 2000
  config.checkpoint_every_steps = 1000
  config.keep_checkpoints = 3
  return config
