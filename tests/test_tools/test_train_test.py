"""tools/train.py, tools/test.py and tools/dist_train.sh, run as a user runs
them, on the generated shapes set."""
import glob
import json
import os
import os.path as osp
import signal
import subprocess
import time

import pytest
import torch

import lkmm  # noqa: F401  (safe checkpoint loading for torch.load below)


def _scalars(work_dir):
    """Validation metrics logged by mmengine, in order."""
    files = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    assert files, f'no scalars.json under {work_dir}'
    rows = []
    for path in sorted(files):
        with open(path) as f:
            rows += [json.loads(line) for line in f if line.strip()]
    return [row for row in rows if 'mIoU' in row]


def _final_weights(work_dir):
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        path = f.read().strip()
    return path, torch.load(path, map_location='cpu')['state_dict']


@pytest.mark.slow
def test_demo_learns_and_test_tool_reports_it(tools, tmp_path):
    """The demo trains, beats the untrained model >= 3x, test.py agrees."""
    work_dir = str(tmp_path / 'demo')
    tools.run([tools.python, 'tools/train.py', tools.demo_config,
               '--work-dir', work_dir, '--cfg-options',
               *tools.data_options()])
    metrics = _scalars(work_dir)
    untrained, trained = metrics[0], metrics[-1]
    assert untrained['step'] == 0
    assert trained['mIoU'] >= 3 * untrained['mIoU'], metrics
    ckpt, _ = _final_weights(work_dir)
    out = str(tmp_path / 'preds.pkl')
    proc = tools.run([tools.python, 'tools/test.py', tools.demo_config, ckpt,
                      '--work-dir', work_dir, '--out', out,
                      '--cfg-options', *tools.data_options()])
    assert f'mIoU: {trained["mIoU"]:.4f}' in proc.stdout + proc.stderr
    assert osp.getsize(out) > 0


def test_test_tool_rejects_missing_checkpoint(tools, tmp_path):
    with pytest.raises(AssertionError, match='checkpoint not found'):
        tools.run([tools.python, 'tools/test.py', tools.demo_config,
                   str(tmp_path / 'missing.pth')])


def _short_run_options(tools, max_iters, interval):
    return [
        '--cfg-options', *tools.data_options(),
        f'train_cfg.max_iters={max_iters}',
        f'train_cfg.val_interval={max_iters}',
        f'default_hooks.checkpoint.interval={interval}',
        'default_hooks.checkpoint.max_keep_ckpts=-1',
        'default_hooks.logger.interval=5',
        f'param_scheduler.0.end={max_iters // 4}',
        f'param_scheduler.1.begin={max_iters // 4}',
        f'param_scheduler.1.end={max_iters}',
    ]


@pytest.mark.slow
def test_killed_and_resumed_run_matches_uninterrupted(tools, tmp_path):
    options = _short_run_options(tools, max_iters=60, interval=20)
    straight = str(tmp_path / 'straight')
    tools.run([tools.python, 'tools/train.py', tools.demo_config,
               '--work-dir', straight, *options])

    killed = str(tmp_path / 'killed')
    proc = subprocess.Popen(
        [tools.python, 'tools/train.py', tools.demo_config, '--work-dir',
         killed, *options], cwd=tools.repo, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    marker = osp.join(killed, 'last_checkpoint')
    deadline = time.time() + 300
    while not osp.exists(marker) and proc.poll() is None:
        assert time.time() < deadline, 'no checkpoint within 300 s'
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, 'run ended before it was killed'
    assert not osp.exists(osp.join(killed, 'iter_60.pth'))

    tools.run([tools.python, 'tools/train.py', tools.demo_config,
               '--work-dir', killed, '--resume', *options])
    path_a, weights_a = _final_weights(straight)
    path_b, weights_b = _final_weights(killed)
    assert osp.basename(path_a) == osp.basename(path_b) == 'iter_60.pth'
    assert weights_a.keys() == weights_b.keys()
    for key in weights_a:
        assert torch.equal(weights_a[key], weights_b[key]), key


@pytest.mark.slow
def test_dist_train_two_processes_on_cpu(tools, tmp_path):
    work_dir = str(tmp_path / 'dist')
    proc = tools.run(
        ['bash', 'tools/dist_train.sh', tools.demo_config, '2',
         '--work-dir', work_dir,
         *_short_run_options(tools, max_iters=10, interval=10)],
        env=dict(PORT=str(29500 + os.getpid() % 1000)))
    log = proc.stdout + proc.stderr
    assert 'Distributed training: True' in log
    assert osp.isfile(osp.join(work_dir, 'iter_10.pth'))
    metrics = _scalars(work_dir)
    assert metrics and metrics[-1]['step'] == 10
