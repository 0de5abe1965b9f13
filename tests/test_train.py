"""The trainer: one real run on a tiny config, exact resume after SIGKILL, 1 vs 8 devices, CLI errors."""
import glob
import json
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from conftest import REPO
from unet_flax import checkpoints
from unet_flax import input_pipeline
from unet_flax import predict
from unet_flax import train


def _restore_params(workdir, step):
  manager = checkpoints.train_manager(workdir, keep=10)
  restored = manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore()))
  manager.close()
  return restored['state']['params']


def test_train_and_evaluate_writes_metrics_images_and_checkpoints(tiny_config, tmp_path):
  workdir = str(tmp_path / 'run')
  summary = train.train_and_evaluate(tiny_config, workdir)
  assert summary['step'] == tiny_config.num_train_steps
  for key in ('iou', 'dice', 'pixel_accuracy', 'precision', 'recall', 'per_image_iou_median'):
    assert 0.0 <= summary['eval'][key] <= 1.0
  assert summary['eval']['num_images'] == 16            # the whole `tiny` validation split
  assert summary['flops_per_step'] > 0 and summary['num_params'] == 33_249
  assert glob.glob(os.path.join(workdir, 'tensorboard', 'events.out.tfevents.*'))
  assert sorted(os.listdir(os.path.join(workdir, 'eval'))) == ['step_000003.png', 'step_000006.png']
  records = [json.loads(l) for l in open(os.path.join(workdir, 'metrics.jsonl'))]
  assert {r['split'] for r in records} == {'train', 'eval'}
  assert all(np.isfinite(r['loss']) for r in records if r['split'] == 'train')
  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints'))) == ['3', '6']
  assert json.load(open(os.path.join(workdir, 'summary.json')))['step'] == 6

  # The best checkpoint is self-describing: it rebuilds the model and predicts at any size.
  segmenter = predict.Segmenter.from_workdir(workdir)
  assert segmenter.model.depth == 3
  photo = np.random.default_rng(0).random((45, 70, 3), np.float32)
  probs = segmenter(photo)
  assert probs.shape == (45, 70, 1)
  # A from-scratch U-Net sees a photo at its training size by default (ImageNet encoders: at
  # 160 and 224 px), or at given sides, averaged; the mask comes back at the photo's resolution.
  assert segmenter.photo_sides == (tiny_config.data.image_size,) == (32,)
  assert segmenter.resolve_sides([0, 48]) == [32, 48]
  at = {side: np.asarray(segmenter.photo_probability(photo, side)) for side in (0, 32, 48)}
  assert all(p.shape == (45, 70, 1) for p in at.values())
  np.testing.assert_allclose(at[0], at[32], atol=1e-6)
  np.testing.assert_allclose(segmenter.photo_probability(photo, [32, 48]),
                             (at[32] + at[48]) / 2, atol=1e-6)
  with pytest.raises(ValueError, match='side'):
    segmenter.photo_probability(photo, [])

  # Running the finished job again resumes (nothing left to train) instead of starting over.
  again = train.train_and_evaluate(tiny_config, workdir)
  assert again['step'] == 6 and again['train_seconds_this_run'] == 0.0
  assert again['eval']['iou'] == pytest.approx(summary['eval']['iou'])


def test_parameter_average_is_what_evaluation_and_prediction_use(tiny_config, tmp_path):
  tiny_config.optimizer.ema_decay = 0.9
  workdir = str(tmp_path / 'ema')
  summary = train.train_and_evaluate(tiny_config, workdir)
  manager = checkpoints.train_manager(workdir, keep=10)
  state = manager.restore(summary['best_step'], args=ocp.args.Composite(
      state=ocp.args.StandardRestore()))['state']
  manager.close()
  # The best checkpoint (what predict.Segmenter loads) holds the average, not the last step's.
  jax.tree.map(np.testing.assert_array_equal, state['ema_params'],
               predict.Segmenter.from_workdir(workdir).variables['params'])
  assert not np.array_equal(state['ema_params']['head']['kernel'], state['params']['head']['kernel'])
  # The effective decay is min(decay, (1 + t) / (10 + t)): 0.1 at step 0.
  e, p = {'w': np.float32(1.0)}, {'w': np.float32(3.0)}
  assert float(train.update_ema(e, p, 0, 0.9)['w']) == pytest.approx(0.1 * 1 + 0.9 * 3)
  assert float(train.update_ema(e, p, 10**6, 0.9)['w']) == pytest.approx(0.9 * 1 + 0.1 * 3)
  # Resuming without the average (the checkpoints hold one) is refused, naming the key.
  tiny_config.optimizer.ema_decay = 0.0
  with pytest.raises(ValueError, match='optimizer.ema_decay > 0'):
    train.train_and_evaluate(tiny_config, workdir)
  tiny_config.optimizer.ema_decay = 1.0
  with pytest.raises(ValueError, match=r'ema_decay=1.0: expected 0 \(off\) or a decay in'):
    train.validate_config(tiny_config, 1)


def test_ensemble_averages_its_members_probabilities_and_resumes(tiny_config, tmp_path):
  tiny_config.num_train_steps, tiny_config.eval_every_steps = 3, 3
  tiny_config.ensemble_size, tiny_config.seed = 2, 5
  workdir = str(tmp_path / 'ensemble')
  summary = train.train_and_evaluate(tiny_config, workdir)
  assert [m['seed'] for m in summary['ensemble_members']] == [5, 6]
  assert summary['best_step'] == 3 and 0.0 <= summary['eval']['iou'] <= 1.0
  assert os.path.exists(os.path.join(workdir, 'eval', 'step_000003.png'))
  members = [predict.Segmenter.from_workdir(train.ensemble_member_workdir(workdir, s))
             for s in (5, 6)]
  ensemble = predict.Segmenter.from_workdir(workdir)  # what stylize.py and eval_real.py load
  assert ensemble.ensemble and not members[0].ensemble
  assert not np.array_equal(members[0].variables['params']['head']['kernel'],
                            members[1].variables['params']['head']['kernel'])
  photo = np.random.default_rng(0).random((45, 70, 3), np.float32)
  probs = [np.asarray(m(photo)) for m in members]
  np.testing.assert_allclose(ensemble(photo), (probs[0] + probs[1]) / 2, atol=1e-6)
  assert ensemble.photo_probability(photo).shape == (45, 70, 1)
  # Run again: the members are complete, the ensemble is the same.
  again = train.train_and_evaluate(tiny_config, workdir)
  assert again['eval']['iou'] == pytest.approx(summary['eval']['iou'])
  tiny_config.ensemble_size = 0
  with pytest.raises(ValueError, match=r'config.ensemble_size=0: expected an integer >= 1'):
    train.validate_config(tiny_config, 1)


_KILL_AT_STEP = textwrap.dedent('''
    import os, signal, sys
    from configs import default
    from unet_flax import input_pipeline, runtime, train
    runtime.setup()
    config = default.get_config('tiny')
    config.data.data_dir = {data_dir!r}
    config.num_train_steps = 10
    config.data.worker_count = int(sys.argv[2])
    kill_at = int(sys.argv[1])
    next_batch = input_pipeline.TrainBatches.__next__
    def killing_next(batches):
      if batches.step + 1 == kill_at:  # SIGKILL: no handler runs, a save may be in flight.
        os.kill(os.getpid(), signal.SIGKILL)
      return next_batch(batches)
    input_pipeline.TrainBatches.__next__ = killing_next
    train.train_and_evaluate(config, {workdir!r})
''')


def test_training_at_several_sides_draws_one_per_step(tiny_config, tmp_path, monkeypatch):
  # The side of every batch the trainer takes from its loader, i.e. that a train step ran on.
  trained_shapes, next_batch = [], input_pipeline.TrainBatches.__next__

  def recorded_next(batches):
    batch = next_batch(batches)
    trained_shapes.append((batch['image'].shape[1:3], batch['mask'].shape[1:3]))
    return batch

  monkeypatch.setattr(input_pipeline.TrainBatches, '__next__', recorded_next)
  workdir = str(tmp_path / 'run')
  tiny_config.data.train_image_sizes = (32, 48)
  summary = train.train_and_evaluate(tiny_config, workdir)
  assert summary['step'] == 6 and summary['eval']['num_images'] == 16  # evaluated at 32 px
  sides = [image[0] for image, _ in trained_shapes]
  assert len(sides) == 6 and all(image == mask == (side, side)
                                 for side, (image, mask) in zip(sides, trained_shapes))
  assert set(sides) == {32, 48}  # this seed's 6 steps trained at both sides
  segmenter = predict.Segmenter.from_workdir(workdir)
  assert segmenter.photo_sides == (32,)  # prediction defaults to image_size
  assert json.load(open(glob.glob(os.path.join(workdir, 'best', '*', 'metadata', 'metadata'))[0])
                   )['train_image_sizes'] == [32, 48]


def test_sigkilled_run_resumes_to_the_same_parameters(tiny_config, tmp_path):
  tiny_config.num_train_steps = 10
  reference_dir, killed_dir = str(tmp_path / 'reference'), str(tmp_path / 'killed')
  train.train_and_evaluate(tiny_config, reference_dir)

  script = _KILL_AT_STEP.format(workdir=killed_dir, data_dir=tiny_config.data.data_dir)
  # Killed right after the step-3 save was started, then again after the step-6 save; the
  # second run reads with 2 Grain worker processes, so it restores the loader state of an
  # in-process loader (and saves a state with the workers' positions, which the last run, in
  # process again, restarts from its step).
  for kill_at, workers in ((4, 0), (7, 2)):
    result = subprocess.run([sys.executable, '-c', script, str(kill_at), str(workers)], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == -9, result.stderr[-2000:]
  # Every complete checkpoint holds the loader's state at its step (a save in flight at a kill
  # may not have completed, so which runs wrote them varies).
  manager = checkpoints.train_manager(killed_dir, keep=10)
  saved_steps = manager.all_steps()
  manager.close()
  assert saved_steps
  for step in saved_steps:
    loader_state = json.load(open(os.path.join(killed_dir, 'checkpoints', str(step), 'loader',
                                               'process_0-of-1.json')))
    assert loader_state['step'] == step
    assert loader_state['worker_count'] in {3: (0, 2), 6: (2,)}[step]
  summary = train.train_and_evaluate(tiny_config, killed_dir)   # the same job, run again
  assert summary['step'] == 10
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7),
               _restore_params(reference_dir, 10), _restore_params(killed_dir, 10))


_DEVICES = textwrap.dedent('''
    import json, sys
    import jax
    from configs import default
    from unet_flax import train
    config = default.get_config('tiny')
    config.data.data_dir = {data_dir!r}
    assert jax.device_count() == int(sys.argv[1]), jax.devices()
    summary = train.train_and_evaluate(config, sys.argv[2])
    config.batch_size = 12
    try:
      train.train_and_evaluate(config, sys.argv[2] + '_bad')
      error = None
    except ValueError as e:
      error = str(e)
    print(json.dumps({{'eval': summary['eval'], 'error': error}}))
''')


def test_eight_devices_give_the_same_losses_as_one(tiny_config, tmp_path):
  script = _DEVICES.format(data_dir=tiny_config.data.data_dir)
  results = {}
  for devices in (1, 8):
    env = dict(os.environ, XLA_FLAGS=f'--xla_force_host_platform_device_count={devices}')
    workdir = str(tmp_path / f'devices{devices}')
    out = subprocess.run([sys.executable, '-c', script, str(devices), workdir], cwd=REPO, env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    records = [json.loads(l) for l in open(os.path.join(workdir, 'metrics.jsonl'))]
    results[devices] = (json.loads(out.stdout.strip().splitlines()[-1]),
                        [r['loss'] for r in records if r['split'] == 'train'])
  (one, losses1), (eight, losses8) = results[1], results[8]
  np.testing.assert_allclose(losses8, losses1, rtol=1e-5)
  assert eight['eval']['iou'] == pytest.approx(one['eval']['iou'], abs=1e-5)
  assert one['error'] is None or 'multiple' not in one['error']       # 12 % 1 == 0
  assert 'config.batch_size=12' in eight['error'] and '(8)' in eight['error']


def _cli(args, **kwargs):
  return subprocess.run([sys.executable, 'train.py', *args], cwd=REPO, capture_output=True,
                        text=True, **kwargs)


def _single_error_line(result):
  lines = [l for l in result.stderr.splitlines() if l.startswith('error: ')]
  assert result.returncode != 0 and len(lines) == 1, result.stderr[-2000:]
  return lines[0]


def test_cli_unknown_config_key_is_one_clear_line():
  result = _cli(['--config', 'configs/unet_person.py', '--config.model.depthh=3'])
  line = _single_error_line(result)
  assert "'depthh'" in line and '--config.model.depthh=3' in line and 'depth' in line
  assert 'Traceback' not in result.stderr


def test_cli_bad_values_fail_before_touching_the_workdir(tiny_data_dir, tmp_path):
  file_not_dir = tmp_path / 'a_file'
  file_not_dir.write_text('x')
  base = ['--config', 'configs/unet_person.py', f'--config.data.data_dir={tiny_data_dir}',
          '--config.data.builder_config=tiny']
  line = _single_error_line(_cli(base + ['--workdir', str(file_not_dir / 'sub')]))
  assert str(file_not_dir / 'sub') in line and 'not writable' in line
  line = _single_error_line(_cli(base + ['--config.data.image_size=60', '--workdir',
                                         str(tmp_path / 'w')]))
  assert 'config.data.image_size=60' in line
  assert not os.path.exists(tmp_path / 'w' / 'checkpoints')
  line = _single_error_line(_cli(base + ['--config.data.train_image_sizes=96,100', '--workdir',
                                         str(tmp_path / 'w1')]))
  assert 'config.data.train_image_sizes=(96, 100)' in line and 'multiple of' in line
  assert not os.path.exists(tmp_path / 'w1')
  line = _single_error_line(_cli(base + ['--config.model.encoder=resnet', '--workdir',
                                         str(tmp_path / 'w2')]))
  assert "config.model.encoder='resnet'" in line and 'efficientnet_lite0' in line
  assert not os.path.exists(tmp_path / 'w2')
  line = _single_error_line(_cli(base + ['--config.weight_interpolation=0', '--workdir',
                                         str(tmp_path / 'w3')]))
  assert 'config.weight_interpolation=0' in line and '0 < value <= 1' in line
  assert not os.path.exists(tmp_path / 'w3')


def test_cli_incomplete_multi_process_flags_are_one_clear_line(tmp_path):
  workdir = ['--workdir', str(tmp_path / 'w')]
  line = _single_error_line(_cli(['--coordinator_address=localhost:1234', '--process_id=0']
                                 + workdir))
  assert '--coordinator_address=localhost:1234 needs --num_processes' in line
  line = _single_error_line(_cli(['--coordinator_address=localhost:1234', '--num_processes=2',
                                  '--process_id=2'] + workdir))
  assert '--process_id=2: expected 0..1' in line
  line = _single_error_line(_cli(['--num_processes=2', '--process_id=1'] + workdir))
  assert 'need --coordinator_address' in line
  assert not os.path.exists(tmp_path / 'w')


def test_resuming_with_another_model_is_refused_and_keeps_the_checkpoints(tiny_config, tmp_path):
  workdir = str(tmp_path / 'run')
  tiny_config.num_train_steps = 3
  train.train_and_evaluate(tiny_config, workdir)
  before = sorted(os.listdir(os.path.join(workdir, 'checkpoints')))
  tiny_config.model.base_filters = 16
  with pytest.raises(ValueError, match='config.json.*base_filters'):
    train.train_and_evaluate(tiny_config, workdir)
  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints'))) == before
  assert predict.Segmenter.from_workdir(workdir).model.base_filters == 8


def test_evaluate_scores_ground_truth_and_pseudo_labels_apart(tiny_config):
  # Left half person on 'gt' and 'pseudo' examples, plus 'gt' negatives; a stub model that calls
  # every pixel person: IoU 0.5 on the positives, every negative pixel a false positive.
  import ml_collections
  from unet_flax import metrics
  half = np.zeros((8, 8, 1), np.uint8)
  half[:, :4] = 1
  examples = [{'image': np.zeros((8, 8, 3), np.uint8), 'mask': mask, 'label_source': source}
              for mask, source in [(half, 'gt'), (half, 'pseudo'), (half * 0, 'gt')] * 3]
  eval_step = lambda variables, batch: (
      metrics.confusion_counts(np.ones_like(batch['mask']), batch['mask']), batch['mask'])
  config = ml_collections.ConfigDict(dict(eval_batch_size=4, num_eval_images=0,
                                          data=dict(image_size=8)))
  sharding = jax.sharding.NamedSharding(train.create_mesh(), jax.sharding.PartitionSpec('data'))
  summary, _ = train.evaluate(eval_step, None, examples, config, sharding)
  assert summary['num_images'] == 9 and summary['num_empty_images'] == 3
  assert summary['gt_num_images'] == 6 and summary['pseudo_num_images'] == 3
  # gt pools 3 half-person images (32 tp + 32 fp each) and 3 negatives (64 fp each).
  assert summary['gt_iou'] == pytest.approx(3 * 32 / (3 * 64 + 3 * 64))
  assert summary['pseudo_iou'] == pytest.approx(0.5)
  assert summary['empty_image_foreground'] == 1.0 and summary['gt_empty_image_foreground'] == 1.0


def test_bfloat16_compute_keeps_float32_parameters_and_the_loss_within_2_percent(tiny_config,
                                                                                 tmp_path):
  tiny_config.num_train_steps = 50
  tiny_config.log_every_steps = 10
  tiny_config.eval_every_steps = tiny_config.checkpoint_every_steps = 50
  losses = {}
  for dtype in ('float32', 'bfloat16'):
    tiny_config.dtype = dtype
    workdir = str(tmp_path / dtype)
    train.train_and_evaluate(tiny_config, workdir)
    records = [json.loads(l) for l in open(os.path.join(workdir, 'metrics.jsonl'))]
    losses[dtype] = [r['loss'] for r in records if r['split'] == 'train']
    manager = checkpoints.train_manager(workdir, keep=10)
    state = manager.restore(50, args=ocp.args.Composite(state=ocp.args.StandardRestore()))['state']
    manager.close()
    assert {str(x.dtype) for x in jax.tree.leaves(state['params'])} == {'float32'}
    assert {str(x.dtype) for x in jax.tree.leaves(state['opt_state'])
            if np.ndim(x)} == {'float32'}
  f32, bf16 = losses['float32'][-1], losses['bfloat16'][-1]
  assert losses['float32'] != losses['bfloat16']          # bf16 really computed
  assert abs(bf16 - f32) / f32 < 0.02, losses
  tiny_config.dtype = 'float16'
  with pytest.raises(ValueError, match=r"config.dtype='float16': expected one of 'float32', "):
    train.validate_config(tiny_config, 1)


def test_weight_interpolation_mixes_only_the_pretrained_subtrees():
  import jax.numpy as jnp
  from unet_flax import train
  params = {'encoder': {'w': jnp.full((2,), 4.0)}, 'decoder': {'w': jnp.full((3,), 2.0)}}
  pretrained = {'encoder': {'w': np.zeros((2,), np.float32)}}
  mixed = train.interpolate_weights(pretrained, params, 0.25)
  np.testing.assert_allclose(mixed['encoder']['w'], [1.0, 1.0])   # 0.75 * 0 + 0.25 * 4
  np.testing.assert_array_equal(mixed['decoder']['w'], params['decoder']['w'])
  assert train.interpolate_weights(pretrained, params, 1.0) is params
  assert train.interpolate_weights(None, params, 0.5) is params
