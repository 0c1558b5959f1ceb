import os
import os.path as osp
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


class Tools:
    """Runs the repository's command-line tools as a user would."""
    repo = REPO
    python = sys.executable
    demo_config = osp.join(REPO, 'configs', 'demo',
                           'upernet_replknet-tiny_shapes.py')

    def __init__(self, data_root):
        self.data_root = data_root

    def data_options(self):
        """``--cfg-options`` entries pointing the demo config at the data
        (and at another seed, see :meth:`seed_options`)."""
        return [f'{split}_dataloader.dataset.data_root={self.data_root}'
                for split in ('train', 'val', 'test')] + self.seed_options()

    @staticmethod
    def seed_options():
        """``randomness.seed=N`` when ``LKMM_TEST_SEED`` is set: the demo
        tests then train from another seed (tools/misc/check_portability.sh
        runs them so, to measure the spread their thresholds must hold)."""
        seed = os.environ.get('LKMM_TEST_SEED')
        return [f'randomness.seed={int(seed)}'] if seed else []

    @staticmethod
    def report(demo, untrained, trained, metric):
        """Print a demo test's figures in the line the portability check
        collects (``pytest -s``)."""
        print(f'\n[demo figure] {demo}: {metric} untrained '
              f'{untrained:.4f} -> trained {trained:.4f}')

    def run(self, args, timeout=2400, env=None):
        """Run ``args`` from the repo root; fail with its output on error.

        The timeout only catches a hang: the longest run (the detection
        demo, about 4 minutes on 2 cores) takes 3-4x longer beside
        other training runs, and a 900 s limit failed the 60-epoch
        classification demo on such a machine."""
        full_env = dict(os.environ, PYTHONUNBUFFERED='1', **(env or {}))
        proc = subprocess.run(args, cwd=REPO, env=full_env,
                              capture_output=True, text=True,
                              timeout=timeout)
        if proc.returncode != 0:
            raise AssertionError(
                f'{" ".join(args)} exited {proc.returncode}\n'
                f'--- stdout ---\n{proc.stdout[-6000:]}\n'
                f'--- stderr ---\n{proc.stderr[-6000:]}')
        return proc


@pytest.fixture(scope='session')
def shapes_root(tmp_path_factory):
    """A small generated shapes set (ADE20K layout) shared by the session."""
    from lkmm.datasets import make_shapes_segmentation
    root = str(tmp_path_factory.mktemp('shapes'))
    return make_shapes_segmentation(root, num_train=32, num_val=8, size=64)


@pytest.fixture(scope='session')
def tools(shapes_root):
    return Tools(shapes_root)


def _randomize_bn(module, seed=0):
    """Give every BN of ``module`` non-trivial running statistics and affine
    parameters (seeded), so that deployment BNs is checked on more than the
    identity. Returns ``module``."""
    import torch
    from torch.nn.modules.batchnorm import _BatchNorm
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, _BatchNorm):
                n = m.num_features
                m.running_mean.copy_(torch.rand(n, generator=gen) * 2 - 1)
                m.running_var.copy_(torch.rand(n, generator=gen) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                m.bias.copy_(torch.rand(n, generator=gen) * 2 - 1)
    return module


@pytest.fixture(scope='session')
def randomize_bn():
    """:func:`_randomize_bn` (test modules cannot import each other)."""
    return _randomize_bn


_RANK_DUMP = """
import os.path as osp
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class DumpRankParameters(Hook):
    # Every rank writes its own final parameters (mmengine saves rank 0's).
    def after_train(self, runner):
        model = runner.model.module if is_model_wrapper(runner.model) \\
            else runner.model
        params = {k: v.detach() for k, v in model.named_parameters()}
        torch.save(params, osp.join(runner.work_dir,
                                    f'rank{get_rank()}.pth'))
"""


class RankDump:
    """A config that adds a hook writing each rank's final parameters, and
    the check that the ranks ended identical (tools/dist_train.sh)."""

    def __init__(self, folder):
        self.folder = folder
        (folder / 'lkmm_test_rank_dump.py').write_text(_RANK_DUMP)
        self.env = dict(PYTHONPATH=f'{folder}:'
                        f'{os.environ.get("PYTHONPATH", "")}')

    def config(self, base, hooks):
        """A config inheriting ``base`` whose custom hooks are ``hooks``
        (config text) plus the dump."""
        path = self.folder / f'rank_dump_{osp.basename(base)}'
        path.write_text(
            f'_base_ = {osp.join(REPO, base)!r}\n'
            "custom_imports = dict(imports=['lkmm', "
            "'lkmm_test_rank_dump'], allow_failed_imports=False)\n"
            f"custom_hooks = [{hooks}dict(type='DumpRankParameters')]\n")
        return str(path)

    def assert_ranks_identical(self, work_dir, checkpoint):
        import torch
        ranks = [torch.load(osp.join(work_dir, f'rank{r}.pth'),
                            map_location='cpu') for r in (0, 1)]
        saved = torch.load(checkpoint, map_location='cpu')['state_dict']
        assert ranks[0].keys() == ranks[1].keys() and ranks[0]
        for key in ranks[0]:
            assert torch.equal(ranks[0][key], ranks[1][key]), key
            assert torch.equal(ranks[0][key], saved[key]), key


@pytest.fixture
def rank_dump(tmp_path):
    """:class:`RankDump` in a fresh folder."""
    folder = tmp_path / 'rank_dump'
    folder.mkdir()
    return RankDump(folder)
