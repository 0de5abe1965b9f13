"""Base hyper-parameters of the person-segmentation U-Net, which every unet config starts from.

As in the flax examples, `get_config()` returns the base; each variant imports it (or a config
that does) and changes what differs. configs/unet_scratch.py is the base unchanged: a from-scratch
U-Net on the embedded offline dataset (its docstring has the measured result).

Command (the same run as configs/unet_scratch.py):
  python train.py --config configs/default.py --workdir workdirs/unet_scratch

The `tiny` variant, for tests and smoke runs (also `configs/unet_scratch.py:tiny`), shrinks it to
a run of seconds (`tiny()` below: 8 filters, depth 3, the embedded `tiny` dataset at 32 px, 6
steps; ~20 s on 2 CPU cores, most of it start-up and compilation):
  python train.py --config configs/default.py:tiny --workdir /tmp/unet_tiny
`tiny(config)` shrinks another from-scratch config the same way (the Colab notebook's smoke run).
"""
import ml_collections

VARIANTS = ('', 'tiny')


def get_config(variant: str = '') -> ml_collections.ConfigDict:
  """The base hyper-parameters; `variant='tiny'` (`--config configs/default.py:tiny`) shrinks them
  with `tiny()`."""
  if variant not in VARIANTS:
    raise ValueError(f'unknown config variant {variant!r}: expected one of {VARIANTS}')
  config = ml_collections.ConfigDict()
  config.seed = 0

  # U-Net: base_filters doubles over `depth` levels. See unet_flax/models.py.
  config.model = ml_collections.ConfigDict(dict(
      name='unet',
      base_filters=16,
      depth=4,
      dropout=0.1,
      dropout_levels=2,
      batch_norm=False,
      num_classes=1,
      up_kernel_size=3,
      head_filters=16,
      # 'unet' (from scratch), 'vgg19' (ImageNet VGG19, nst_flax), 'efficientnet_lite0' or
      # 'mediapipe_selfie' (the encoder of MediaPipe's person-segmentation network).
      encoder='unet',
      decoder='unet',            # 'mediapipe_selfie': that network's own decoder (the whole net)
      # 'vgg19': frozen ImageNet VGG19 features added at the MediaPipe decoder's inputs, VGG19
      # seeing the image pooled by side_downsample (with decoder='mediapipe_selfie').
      side_encoder='none',
      side_downsample=2,
  ))

  # Data through tensorflow-datasets; see unet_flax/input_pipeline.py and docs/data.md.
  config.data = ml_collections.ConfigDict(dict(
      name='person_composite',   # 'person_composite' | 'person_folder' | 'coco_person'
      builder_config='default',
      data_dir=ml_collections.config_dict.placeholder(str),
      manual_dir=ml_collections.config_dict.placeholder(str),
      train_split='train',
      eval_split='validation',
      image_size=96,
      train_image_sizes=(),      # several sides, e.g. (96, 128): each train batch is one of them
      augment=True,
      crop_min_area=0.6,         # the train-time random resized crop keeps 60-100% of the area
      crop_max_aspect=4 / 3,     # and has an aspect ratio of 3:4-4:3 (stretched to a square)
      grayscale_prob=0.0,        # share of training examples shown in grey
      # person_composite: each training example without people is seen this many times per
      # epoch (1: as the dataset has them, 15% of the examples; 3 measured and left,
      # experiments/README.md).
      negative_repeat=1,
      worker_count=0,            # Grain worker processes for training batches (0: in-process)
  ))

  config.batch_size = 16        # global batch, split over all devices
  config.eval_batch_size = 16
  config.num_train_steps = 1000

  config.optimizer = ml_collections.ConfigDict(dict(
      name='adamw',              # 'adamw' | 'adam'
      learning_rate=2e-3,
      warmup_steps=100,
      end_learning_rate_factor=0.01,   # cosine decays to learning_rate * this
      weight_decay=1e-4,
      b1=0.9,
      b2=0.999,
      grad_clip_norm=1.0,        # 0 disables clipping
      # With model.encoder='vgg19' (pretrained): the encoder is frozen for this many steps, then
      # fine-tuned at learning_rate * encoder_lr_factor.
      encoder_frozen_steps=1_000_000,
      encoder_lr_factor=0.1,
      # > 0: evaluate, keep as best and predict with an exponential moving average of the
      # parameters (decay per step) instead of the last step's parameters.
      ema_decay=0.0,
  ))
  config.loss = ml_collections.ConfigDict(dict(bce_weight=1.0, dice_weight=1.0))
  # < 1 with a pretrained network: evaluate, keep as best and predict with
  # (1 - w) * pretrained + w * fine-tuned parameters (WiSE-FT; unet_flax.train.interpolate_weights).
  config.weight_interpolation = 1.0
  # > 1: train this many runs (seeds seed, seed + 1, ...) under workdir/members/ and predict with
  # the mean of their probabilities (unet_flax.train.train_ensemble). Each run costs the full time.
  config.ensemble_size = 1
  # Compute dtype: 'float32' | 'bfloat16' (TPUs, recent GPUs). Parameters, the optimizer state and
  # the loss stay float32 either way.
  config.dtype = 'float32'

  config.log_every_steps = 50
  config.eval_every_steps = 250
  config.checkpoint_every_steps = 250
  config.keep_checkpoints = 2      # the last k; the best by validation IoU is kept apart in best/
  config.num_eval_images = 8       # rows of the image | true | predicted PNG grid
  return tiny(config) if variant == 'tiny' else config


def tiny(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """Shrinks a from-scratch unet config, in place, to a run of seconds on a CPU: 8 filters, depth
  3, the embedded `tiny` dataset (48 train / 16 validation composites, built offline) at 32 px,
  batch 8, 6 steps evaluated and saved every 3. Returns `config`."""
  config.model.update(base_filters=8, depth=3, head_filters=8)
  config.data.update(builder_config='tiny', image_size=32)
  config.batch_size = 8
  config.eval_batch_size = 8
  config.num_train_steps = 6
  config.log_every_steps = 2
  config.eval_every_steps = 3
  config.checkpoint_every_steps = 3
  config.optimizer.warmup_steps = 2
  config.num_eval_images = 2
  return config
