"""lkmm: large-kernel convolutional networks for OpenMMLab.

Install with ``bash tools/install.sh`` (builds mmcv with ops when needed),
or ``pip install -e .`` into an environment that already has the stack.
"""
import os.path as osp

from setuptools import find_packages, setup


def read_version():
    scope = {}
    with open(osp.join(osp.dirname(__file__), 'lkmm', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


def read_requirements(path):
    reqs = []
    with open(path) as f:
        for line in f:
            line = line.split('#')[0].strip()
            if line.startswith('-r '):
                reqs += read_requirements(
                    osp.join(osp.dirname(path), line[3:].strip()))
            elif line:
                reqs.append(line)
    return reqs


setup(
    name='lkmm',
    version=read_version(),
    description='Large-kernel ConvNets (RepLKNet, PeLK, ParCNetV2) for '
    'OpenMMLab',
    long_description=open('README.md').read() if osp.isfile('README.md')
    else '',
    long_description_content_type='text/markdown',
    packages=find_packages(include=['lkmm', 'lkmm.*']),
    python_requires='>=3.8',
    install_requires=read_requirements('requirements.txt'),
    extras_require=dict(
        tests=read_requirements('requirements/tests.txt'),
        deploy=read_requirements('requirements/deploy.txt')),
    license='Apache License 2.0',
    zip_safe=False)
