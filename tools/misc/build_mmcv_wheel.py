"""Build an mmcv wheel with compiled ops from mmcv's source distribution.

Used by ``tools/install.sh``; it can also be run by hand::

    python tools/misc/build_mmcv_wheel.py --version 2.1.0 \
        --out ~/.cache/lkmm/wheels/x

Why a script: mmcv 2.1.0 (the newest release mmdet 3.3 / mmseg 1.2.2 accept)
publishes no wheel for current torch, and its ``setup.py`` hard-codes
``-std=c++17`` while the headers of torch >= 2.14 need C++20. The sdist is
checked against its published sha256, the flag is raised, and the wheel is
built without build isolation against the torch already installed.
"""
import argparse
import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--version', default='2.1.0', help='mmcv version')
    parser.add_argument(
        '--sha256', default=None, help='expected sha256 of the sdist')
    parser.add_argument(
        '--out', required=True, help='folder that receives the wheel')
    parser.add_argument(
        '--jobs', type=int, default=None,
        help='parallel compile jobs (default: number of CPUs)')
    return parser.parse_args()


def torch_needs_cxx20():
    import torch
    major, minor = (int(v) for v in torch.__version__.split('.')[:2])
    return (major, minor) >= (2, 14)


def download_sdist(version, dest, sha256):
    subprocess.check_call([
        sys.executable, '-m', 'pip', 'download', '--no-deps',
        '--no-binary', ':all:', '--no-build-isolation', '-d', dest,
        f'mmcv=={version}'
    ])
    found = glob.glob(os.path.join(dest, f'mmcv-{version}.tar.gz'))
    if not found:
        raise RuntimeError(f'pip did not fetch mmcv-{version}.tar.gz')
    if sha256 is not None:
        with open(found[0], 'rb') as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        if digest != sha256:
            raise RuntimeError(f'sha256 mismatch for {found[0]}: got '
                               f'{digest}, expected {sha256}')
    return found[0]


def patch_cxx_standard(src_dir):
    """Raise every hard-coded -std=c++14/17 in setup.py to c++20."""
    setup_py = os.path.join(src_dir, 'setup.py')
    with open(setup_py) as f:
        text = f.read()
    patched, count = re.subn(r'([-/])std[=:]c\+\+1[47]', r'\1std=c++20', text)
    patched = patched.replace('/std=c++20', '/std:c++20')  # MSVC spelling
    print(f'[build_mmcv_wheel] raised {count} C++ standard flags to c++20')
    with open(setup_py, 'w') as f:
        f.write(patched)


def main():
    args = parse_args()
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix='lkmm-mmcv-') as tmp:
        sdist = download_sdist(args.version, tmp, args.sha256)
        with tarfile.open(sdist) as tar:
            tar.extractall(tmp, filter='data')
        src_dir = os.path.join(tmp, f'mmcv-{args.version}')
        if torch_needs_cxx20():
            patch_cxx_standard(src_dir)
        env = dict(os.environ, MMCV_WITH_OPS='1')
        env.setdefault('MAX_JOBS', str(args.jobs or os.cpu_count() or 2))
        build_dir = os.path.join(tmp, 'wheel')
        subprocess.check_call([
            sys.executable, '-m', 'pip', 'wheel', '--no-deps',
            '--no-build-isolation', '-w', build_dir, src_dir
        ], env=env)
        wheels = glob.glob(os.path.join(build_dir, 'mmcv-*.whl'))
        if len(wheels) != 1:
            raise RuntimeError(f'expected one mmcv wheel, found {wheels}')
        # Copy under a temporary name then rename, so an interrupted build
        # never leaves a truncated wheel in the cache.
        final = os.path.join(args.out, os.path.basename(wheels[0]))
        partial = final + '.partial'
        shutil.copyfile(wheels[0], partial)
        os.replace(partial, final)
    print(f'[build_mmcv_wheel] wrote {final}')


if __name__ == '__main__':
    main()
