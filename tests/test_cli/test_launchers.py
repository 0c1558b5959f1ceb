"""Launch paths other than a plain process: SyncBN configs on one process,
and the slurm scripts' command lines."""
import os
import stat

import pytest


@pytest.mark.slow
def test_syncbn_config_trains_on_one_cpu_process(tools, tmp_path):
    """Published configs keep SyncBN; on one process mmengine reverts it to
    BN, so the same config trains (here the demo with SyncBN everywhere)."""
    work_dir = str(tmp_path / 'syncbn')
    proc = tools.run(
        [tools.python, 'tools/train.py', tools.demo_config, '--work-dir',
         work_dir, '--cfg-options', 'train_cfg.max_iters=2',
         'train_cfg.val_interval=2', 'custom_hooks=[]',
         'model.backbone.norm_cfg.type=SyncBN',
         'model.decode_head.norm_cfg.type=SyncBN',
         'model.auxiliary_head.norm_cfg.type=SyncBN', *tools.data_options()],
        env=dict(OMP_NUM_THREADS='1'))
    log = proc.stdout + proc.stderr
    assert 'SyncBatchNorm (SyncBN) layers in the model will be ' \
        'automatically reverted' in log
    assert os.path.isfile(os.path.join(work_dir, 'iter_2.pth'))


def _fake_srun(tmp_path):
    """An `srun` stand-in (no cluster here) that records its arguments."""
    record = tmp_path / 'srun_args.txt'
    srun = tmp_path / 'bin' / 'srun'
    srun.parent.mkdir()
    srun.write_text('#!/usr/bin/env bash\n'
                    f'printf "%s\\n" "$@" > "{record}"\n')
    srun.chmod(srun.stat().st_mode | stat.S_IEXEC)
    return record, str(srun.parent)


@pytest.mark.parametrize('script,args,expected_tail', [
    ('tools/slurm_train.sh',
     ['dev', 'job1', 'cfg.py', 'wd', '--resume', '--cfg-options', 'a=1'],
     ['cfg.py', '--work-dir', 'wd', '--launcher', 'slurm', '--resume',
      '--cfg-options', 'a=1']),
    ('tools/slurm_train.sh',
     ['dev', 'job1', 'cfg.py', '--amp'],
     ['cfg.py', '--launcher', 'slurm', '--amp']),
])
def test_slurm_train_passes_arguments(tools, tmp_path, script, args,
                                      expected_tail):
    record, bin_dir = _fake_srun(tmp_path)
    env = dict(PATH=bin_dir + os.pathsep + os.environ['PATH'], GPUS='16',
               GPUS_PER_NODE='8')
    tools.run(['bash', script, *args], env=env)
    argv = record.read_text().splitlines()
    assert argv[:2] == ['-p', 'dev'] and '--job-name=job1' in argv
    assert '--ntasks=16' in argv and '--ntasks-per-node=8' in argv
    python_at = argv.index('python')
    assert argv[python_at + 1] == '-u'
    assert argv[python_at + 2].endswith('tools/train.py')
    assert argv[python_at + 3:] == expected_tail


def test_slurm_test_passes_arguments(tools, tmp_path):
    record, bin_dir = _fake_srun(tmp_path)
    env = dict(PATH=bin_dir + os.pathsep + os.environ['PATH'], GPUS='4')
    tools.run(['bash', 'tools/slurm_test.sh', 'dev', 'job2', 'cfg.py',
               'ckpt.pth', '--tta', '--out', 'r.pkl'], env=env)
    argv = record.read_text().splitlines()
    assert '--ntasks=4' in argv
    python_at = argv.index('python')
    assert argv[python_at + 2].endswith('tools/test.py')
    assert argv[python_at + 3:] == ['cfg.py', 'ckpt.pth', '--launcher',
                                    'slurm', '--tta', '--out', 'r.pkl']
