"""lkmm.deploy.onnx_export on tiny models of every family and a UperNet
segmentor, with random weights and random BN statistics."""
import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper

import lkmm  # noqa: F401  (registers lkmm's models)
from lkmm.deploy import (
    DeployVerificationError,
    OnnxExportError,
    UnsupportedModelError,
    export_model_to_onnx,
    find_fft_nodes,
    onnx_export,
)
from lkmm.ops.depthwise_conv_plan import get_depthwise_conv_impl
from lkmm.ops.oversized_conv import plan_oversized_conv

SHAPE = (3, 64, 64)
_CONVNEXT = dict(depths=[1, 1, 2, 1], channels=[16, 16, 24, 32],
                 kernel_sizes=[13, 11, 9, 7])
BACKBONES = {
    'RepLKNet': dict(type='lkmm.RepLKNet',
                     arch=dict(channels=[8, 16, 24, 32], layers=[1, 1, 2, 1],
                               kernel_sizes=[13, 11, 9, 7], small_kernel=3),
                     final_norm=True),
    'PeLK': dict(type='lkmm.LargeKernelConvNeXt',
                 arch=dict(_CONVNEXT, form='peripheral', partial_ratio=3 / 8,
                           pos_embed=True, centre_size=3),
                 gap_before_final_norm=True),
    'SLaK': dict(type='lkmm.LargeKernelConvNeXt',
                 arch=dict(_CONVNEXT, form='stripe'),
                 gap_before_final_norm=True),
    'ParCNetV2': dict(type='lkmm.ParCNetV2',
                      arch=dict(depths=[1, 1, 2, 1], channels=[8, 16, 24, 32],
                                norm='BN'),
                      train_size=64, gap_before_final_norm=True),
}


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread (small shared machine)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _randomize(model, randomize_bn, seed=0):
    """Random weights (larger than the default init, so the outputs depend
    on the input) and random BN statistics."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() > 1:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) / fan_in ** .5)
            elif 'gamma' in name or 'scale' in name:
                p.copy_(torch.rand(p.shape, generator=gen) + 0.5)
    return randomize_bn(model, seed).eval()


def classifier(family, randomize_bn):
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    backbone = dict(BACKBONES[family], out_indices=(3, ))
    neck = dict(type='GlobalAveragePooling') if family == 'RepLKNet' \
        else None
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(dict(
            type='ImageClassifier', backbone=backbone, neck=neck,
            head=dict(type='LinearClsHead', num_classes=5, in_channels=32),
            data_preprocessor=dict(type='ClsDataPreprocessor')))
    return _randomize(model, randomize_bn)


def segmentor(randomize_bn):
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS
    norm = dict(type='BN', requires_grad=True)
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(dict(
            type='EncoderDecoder',
            data_preprocessor=dict(type='SegDataPreProcessor', size=(64, 64)),
            backbone=dict(BACKBONES['RepLKNet'], out_indices=(0, 1, 2, 3)),
            decode_head=dict(
                type='UPerHead', in_channels=[8, 16, 24, 32],
                in_index=[0, 1, 2, 3], pool_scales=(1, 2), channels=16,
                dropout_ratio=0.1, num_classes=3, norm_cfg=norm,
                align_corners=False,
                loss_decode=dict(type='CrossEntropyLoss')),
            train_cfg=dict(), test_cfg=dict(mode='whole')))
    return _randomize(model, randomize_bn)


def _torch_out(model, x):
    with torch.no_grad():
        return model(x, mode='tensor')


def _ort_out(path, x):
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    return torch.from_numpy(session.run(None, {'input': x.numpy()})[0])


def _relative(expected, actual):
    return ((expected - actual).abs().max() / expected.abs().max()).item()


@pytest.mark.parametrize('family', list(BACKBONES))
def test_classifier_exports_without_fft_and_matches(family, randomize_bn,
                                                    tmp_path):
    model = classifier(family, randomize_bn)
    out = str(tmp_path / f'{family}.onnx')
    result = export_model_to_onnx(model, out, SHAPE, batch_size=2,
                                  bench_iters=0)
    assert os.listdir(tmp_path) == [f'{family}.onnx']
    graph = onnx.load(out)
    ops = {n.op_type for n in graph.graph.node}
    assert 'Conv' in ops and not find_fft_nodes(graph)
    assert result['output_shapes'] == [(2, 5)]
    assert result['relative_diff'] <= 1e-4

    # Independently of the tool: the file reproduces the (training-form) model
    # on another batch, whose logits depend on the image.
    x = torch.randn(2, *SHAPE, generator=torch.Generator().manual_seed(7))
    expected = _torch_out(model, x)
    assert (expected[0] - expected[1]).abs().max() > \
        1e-2 * expected.abs().max()
    assert _relative(expected, _ort_out(out, x)) <= 1e-4


def test_segmentor_exports_decode_head_logits(randomize_bn, tmp_path):
    model = segmentor(randomize_bn)
    out = str(tmp_path / 'upernet.onnx')
    result = export_model_to_onnx(model, out, SHAPE, dynamic=True,
                                  bench_warmup=0, bench_iters=1)
    # mmseg's tensor mode: UPerHead's logits at stride 4, not upsampled.
    assert result['output_shapes'] == [(1, 3, 16, 16)]
    # UPerHead's pyramid pooling (adaptive pooling to 2x2) exports for a
    # fixed input size only: the image size stays fixed, the batch not.
    assert result['dynamic_axes'] == ['batch']
    assert not find_fft_nodes(onnx.load(out))
    assert result['latency_ratio'] > 0
    x = torch.randn(3, *SHAPE, generator=torch.Generator().manual_seed(5))
    expected = _torch_out(model, x)
    actual = _ort_out(out, x)
    assert actual.shape == (3, 3, 16, 16)
    assert _relative(expected, actual) <= 1e-4


def test_dynamic_batch_runs_another_batch_size(randomize_bn, tmp_path):
    model = classifier('RepLKNet', randomize_bn)
    static, dynamic = str(tmp_path / 'static.onnx'), str(tmp_path /
                                                          'dynamic.onnx')
    export_model_to_onnx(model, static, SHAPE, bench_iters=0)
    result = export_model_to_onnx(model, dynamic, SHAPE, dynamic=True,
                                  bench_iters=0)
    assert result['dynamic_axes'] == ['batch', 'height', 'width']
    x = torch.randn(3, *SHAPE, generator=torch.Generator().manual_seed(4))
    assert _relative(_torch_out(model, x), _ort_out(dynamic, x)) <= 1e-4
    y = torch.randn(2, 3, 96, 80, generator=torch.Generator().manual_seed(6))
    assert _relative(_torch_out(model, y), _ort_out(dynamic, y)) <= 1e-4
    with pytest.raises(Exception, match='dimensions'):
        _ort_out(static, x)  # the static file takes batch 1 only


def test_dynamic_falls_back_to_batch_when_size_is_baked_in(
        randomize_bn, tmp_path, monkeypatch):
    """A file that fails at another image size keeps height and width
    fixed, and still takes any batch."""
    model = classifier('RepLKNet', randomize_bn)
    run = onnx_export._run_onnxruntime

    def fixed_size(session, inputs):
        if inputs.shape[-1] != SHAPE[-1]:
            raise RuntimeError('size baked into the graph')
        return run(session, inputs)

    monkeypatch.setattr(onnx_export, '_run_onnxruntime', fixed_size)
    out = str(tmp_path / 'fixed.onnx')
    result = export_model_to_onnx(model, out, SHAPE, dynamic=True,
                                  bench_iters=0)
    assert result['dynamic_axes'] == ['batch']
    x = torch.randn(2, *SHAPE, generator=torch.Generator().manual_seed(4))
    assert _relative(_torch_out(model, x), _ort_out(out, x)) <= 1e-4


def test_export_runs_on_the_plain_conv_path(randomize_bn, tmp_path,
                                            monkeypatch):
    """Both lkmm op switches are 'torch' while torch.onnx traces."""
    seen = []
    export = torch.onnx.export

    def recording(*args, **kwargs):
        seen.append((get_depthwise_conv_impl(),
                     plan_oversized_conv((64, 64), needs_grad=False),
                     kwargs.get('dynamo'), kwargs.get('opset_version')))
        return export(*args, **kwargs)

    monkeypatch.setattr(torch.onnx, 'export', recording)
    model = classifier('ParCNetV2', randomize_bn)
    export_model_to_onnx(model, str(tmp_path / 'p.onnx'), SHAPE,
                         bench_iters=0)
    assert seen == [('torch', ('torch', 'torch'), False, 17)]
    # Outside the export lkmm's own plan applies again.
    assert get_depthwise_conv_impl() == 'auto'


def test_outputs_that_differ_fail_and_write_nothing(randomize_bn, tmp_path,
                                                    monkeypatch):
    model = classifier('SLaK', randomize_bn)
    out = tmp_path / 'model.onnx'
    out.write_bytes(b'old')
    run = onnx_export._run_onnxruntime

    def perturbed(session, inputs):
        outs = run(session, inputs)
        return [o + 1e-3 * o.abs().max() for o in outs]

    monkeypatch.setattr(onnx_export, '_run_onnxruntime', perturbed)
    with pytest.raises(DeployVerificationError, match='outputs differ'):
        export_model_to_onnx(model, str(out), SHAPE, bench_iters=0)
    assert os.listdir(tmp_path) == ['model.onnx']
    assert out.read_bytes() == b'old'


def _graph_with(op_type, domain=''):
    node = helper.make_node(op_type, ['x'], ['y'], domain=domain)
    graph = helper.make_graph(
        [helper.make_node('Relu', ['y'], ['z']), node],
        'g', [helper.make_tensor_value_info('x', TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info('z', TensorProto.FLOAT, [4])])
    return helper.make_model(graph)


def test_find_fft_nodes():
    assert find_fft_nodes(_graph_with('Relu')) == []
    assert find_fft_nodes(_graph_with('DFT')) == ['<unnamed> (DFT)']
    assert find_fft_nodes(_graph_with('STFT'))
    assert find_fft_nodes(_graph_with('Rfft', 'com.microsoft'))


def test_graph_with_fft_nodes_is_refused(randomize_bn, tmp_path,
                                         monkeypatch):
    export = onnx_export._export

    def with_dft(module, inputs, path, *args):
        export(module, inputs, path, *args)
        proto = onnx.load(path)
        proto.graph.node.append(helper.make_node(
            'DFT', [proto.graph.output[0].name], ['spectrum'], name='fft0'))
        onnx.save(proto, path)

    monkeypatch.setattr(onnx_export, '_export', with_dft)
    out = tmp_path / 'model.onnx'
    with pytest.raises(OnnxExportError, match=r'1 FFT node.*fft0 \(DFT\)'):
        export_model_to_onnx(classifier('RepLKNet', randomize_bn), str(out),
                             SHAPE, bench_iters=0)
    assert os.listdir(tmp_path) == []


def test_detectors_are_refused_with_a_reason(tmp_path):
    from lkmm.engine.runner import build_model_from_cfg, load_config
    config = os.path.join(
        os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__)))), 'configs', 'demo',
        'cascade-mask-rcnn_replknet-tiny_shapes-coco.py')
    model = build_model_from_cfg(load_config(config)).eval()
    out = tmp_path / 'det.onnx'
    with pytest.raises(UnsupportedModelError,
                       match='detectors are not supported by this tool'):
        export_model_to_onnx(model, str(out), SHAPE, bench_iters=0)
    assert os.listdir(tmp_path) == []


def test_opset_below_17_is_refused(tmp_path, randomize_bn):
    with pytest.raises(ValueError, match='opset'):
        export_model_to_onnx(classifier('RepLKNet', randomize_bn),
                             str(tmp_path / 'x.onnx'), SHAPE, opset=16)
    assert np.array(os.listdir(tmp_path)).size == 0
