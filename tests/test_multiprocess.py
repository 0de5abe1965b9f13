"""Training on 2 JAX processes (2 simulated CPU devices each, on localhost) gives the losses and
parameters of 1 process with 4 devices, and a killed 2-process run resumes."""
import json
import os
import socket
import subprocess
import sys
import textwrap

import jax
import numpy as np
import orbax.checkpoint as ocp

from conftest import REPO
from unet_flax import checkpoints

_RUN = textwrap.dedent('''
    import os, signal, sys
    from unet_flax import runtime
    process_id, num_processes, port, kill_at, workdir = sys.argv[1:]
    if int(num_processes) > 1:
      runtime.initialize_distributed(f'localhost:{{port}}', int(num_processes), int(process_id))
    runtime.setup()
    from configs import default
    from unet_flax import input_pipeline, train
    config = default.get_config('tiny')
    config.data.data_dir = {data_dir!r}
    config.num_train_steps = 8
    config.log_every_steps = 1
    config.eval_every_steps = config.checkpoint_every_steps = 4
    next_batch = input_pipeline.TrainBatches.__next__
    def killing_next(batches):
      if batches.step + 1 == int(kill_at):  # every process: SIGKILL, no handler runs
        os.kill(os.getpid(), signal.SIGKILL)
      return next_batch(batches)
    input_pipeline.TrainBatches.__next__ = killing_next
    train.train_and_evaluate(config, workdir)
''')


def _free_port():
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


def _launch(script, num_processes, devices, workdir, kill_at=0):
  env = dict(os.environ, XLA_FLAGS=f'--xla_force_host_platform_device_count={devices}')
  port = str(_free_port())
  procs = [subprocess.Popen([sys.executable, '-c', script, str(i), str(num_processes), port,
                             str(kill_at), workdir], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
           for i in range(num_processes)]
  results = [(p.wait(timeout=600), p.communicate()[1]) for p in procs]
  return results


def _restore(workdir, step):
  """The parameters of checkpoint `step`, onto this process's one device (whatever the devices
  and processes that saved them)."""
  path = os.path.join(workdir, checkpoints.CHECKPOINTS_DIR, str(step), 'state')
  checkpointer = ocp.StandardCheckpointer()
  device = jax.sharding.SingleDeviceSharding(jax.devices()[0])
  target = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=device),
                        checkpointer.metadata(path).item_metadata.tree)
  return checkpointer.restore(path, target)['params']


def _train_losses(workdir):
  return {r['step']: r['loss'] for r in map(json.loads, open(os.path.join(workdir, 'metrics.jsonl')))
          if r['split'] == 'train'}


def test_two_processes_train_like_one_and_resume_after_sigkill(tiny_data_dir, tmp_path):
  script = _RUN.format(data_dir=tiny_data_dir)
  single, multi = str(tmp_path / 'one_process'), str(tmp_path / 'two_processes')
  [(rc, err)] = _launch(script, 1, 4, single)
  assert rc == 0, err[-3000:]

  # Both processes are killed at step 6 (after the step-4 save), then the job is run again.
  for rc, err in _launch(script, 2, 2, multi, kill_at=6):
    assert rc == -9, err[-3000:]
  for rc, err in _launch(script, 2, 2, multi):
    assert rc == 0, err[-3000:]

  one, two = _train_losses(single), _train_losses(multi)
  assert sorted(one) == list(range(1, 9)) and set(two) == set(one)  # process 0 wrote each step
  np.testing.assert_allclose([two[s] for s in sorted(one)], [one[s] for s in sorted(one)],
                             rtol=1e-5)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
               _restore(single, 8), _restore(multi, 8))
  # Each process saved its own loader state; only process 0 wrote the logs and summary.
  assert {'process_0-of-2.json', 'process_1-of-2.json'} <= set(
      os.listdir(os.path.join(multi, 'checkpoints', '8', 'loader')))
  summaries = [json.load(open(os.path.join(d, 'summary.json'))) for d in (single, multi)]
  assert summaries[1]['devices'] == 4
  assert abs(summaries[1]['eval']['iou'] - summaries[0]['eval']['iou']) < 1e-5


def test_initialize_distributed_from_flags_or_on_a_multi_host_tpu_slice(monkeypatch):
  from unet_flax import runtime
  calls = []
  monkeypatch.setattr(jax.distributed, 'initialize', lambda *args: calls.append(args))
  monkeypatch.delenv('TPU_WORKER_HOSTNAMES', raising=False)
  assert not runtime.initialize_distributed() and calls == []   # one process: nothing to start
  assert runtime.initialize_distributed('host0:1234', 4, 3)
  monkeypatch.setenv('TPU_WORKER_HOSTNAMES', 't1v-0,t1v-1')      # a 2-host TPU slice
  assert runtime.initialize_distributed()
  assert calls == [('host0:1234', 4, 3), ()]                     # JAX finds its TPU peers itself
  monkeypatch.setenv('TPU_WORKER_HOSTNAMES', 't1v-0')            # a single-host TPU VM
  assert not runtime.initialize_distributed() and len(calls) == 2
