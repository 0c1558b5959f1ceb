"""The CUDA plan follows measured rules only (torch's kernel until a GPU has
measured one), rules are validated, loadable from JSON, and the oversized
and peripheral convs go through the same planned op off the CPU."""
import json

import pytest
import torch

from lkmm.ops import (
    CUDA_PLAN_RULES,
    DWCONV_PARTS,
    PlanRule,
    cuda_plan_rules,
    load_plan_rules,
    plan_depthwise_conv,
    set_cuda_plan_rules,
)

CUDA = torch.device('cuda')  # planning needs no GPU, only the device type
FP32 = torch.float32


@pytest.fixture(autouse=True)
def no_rule_override(monkeypatch):
    monkeypatch.delenv('LKMM_DWCONV_CUDA_RULES', raising=False)
    set_cuda_plan_rules(None)
    yield
    set_cuda_plan_rules(None)


def test_cuda_default_is_torch_until_measured():
    assert CUDA_PLAN_RULES == ()
    for kernel in (3, 7, 13, 31, 51, 101):
        for dtype in (torch.float32, torch.bfloat16, torch.float16):
            plan = plan_depthwise_conv((64, 384, 32, 32), (kernel, kernel),
                                       CUDA, dtype, 'auto')
            assert set(plan.values()) == {'torch'}, (kernel, dtype)


def test_rules_first_match_wins_and_ranges_apply_to_cropped_kernel():
    set_cuda_plan_rules([
        PlanRule('forward', 'triton', ('float32', ), (17, 151), (8, 256),
                 source='test'),
        PlanRule('forward', 'fft', ('float32', ), (1, 151), (1, 256)),
        PlanRule('grad_weight', 'channels_last', ('bfloat16', ), (5, 31),
                 (14, 64), memory_format='nchw'),
        PlanRule('grad_input', 'fft', ('float32', 'bfloat16'), (27, 151),
                 (1, 256), memory_format='channels_last'),
    ])
    plan = plan_depthwise_conv((8, 64, 32, 32), (31, 31), CUDA, FP32, 'auto')
    assert plan == dict(forward='triton', grad_input='torch',
                        grad_weight='torch')
    # 13 < 17: the second rule.
    plan = plan_depthwise_conv((8, 64, 32, 32), (13, 13), CUDA, FP32, 'auto')
    assert plan['forward'] == 'fft'
    # 101 on a 7x7 map meets only 13x13 taps: not the triton rule either.
    plan = plan_depthwise_conv((8, 64, 7, 7), (101, 101), CUDA, FP32, 'auto')
    assert plan['forward'] == 'fft'
    # Map range: min(H, W) = 6 < 8.
    plan = plan_depthwise_conv((8, 64, 6, 40), (31, 31), CUDA, FP32, 'auto')
    assert plan['forward'] == 'fft'
    # dtype and memory format.
    bf16 = torch.bfloat16
    plan = plan_depthwise_conv((8, 64, 32, 32), (7, 7), CUDA, bf16, 'auto')
    assert plan == dict(forward='torch', grad_input='torch',
                        grad_weight='channels_last')
    plan = plan_depthwise_conv((8, 64, 32, 32), (31, 31), CUDA, bf16,
                               'auto', channels_last=True)
    assert plan == dict(forward='torch', grad_input='fft',
                        grad_weight='torch')
    # The CPU plan ignores CUDA rules; forcing still forces.
    assert plan_depthwise_conv((8, 64, 32, 32), (31, 31), 'cpu', FP32,
                               'auto') == dict.fromkeys(DWCONV_PARTS, 'fft')
    assert set(plan_depthwise_conv((8, 64, 32, 32), (31, 31), CUDA, FP32,
                                   'torch').values()) == {'torch'}


def test_rule_validation_names_the_field():
    with pytest.raises(ValueError, match="PlanRule.part must be one of"):
        PlanRule('backward', 'fft', ('float32', ), (3, 31), (7, 64))
    with pytest.raises(ValueError, match="PlanRule.impl must be one of.*"
                       "'channels_last'"):
        PlanRule('forward', 'cudnn', ('float32', ), (3, 31), (7, 64))
    with pytest.raises(ValueError, match='PlanRule.dtypes'):
        PlanRule('forward', 'fft', ('fp32', ), (3, 31), (7, 64))
    with pytest.raises(ValueError, match=r'PlanRule.kernel must be a range'):
        PlanRule('forward', 'fft', ('float32', ), (31, 3), (7, 64))
    with pytest.raises(ValueError, match='PlanRule.memory_format'):
        PlanRule('forward', 'fft', ('float32', ), (3, 31), (7, 64),
                 memory_format='nhwc')


def test_rules_from_json_file_and_environment(tmp_path, monkeypatch):
    rule = PlanRule('forward', 'fft', ('float32', ), (17, 151), (8, 256),
                    source='R=32 K=31: fft 1.2 ms vs torch 9.0 ms')
    listed = tmp_path / 'rules.json'
    listed.write_text(json.dumps([rule.to_dict()]))
    report = tmp_path / 'report.json'
    report.write_text(json.dumps(dict(proposed_cuda_rules=[rule.to_dict()],
                                      grid=[])))
    assert load_plan_rules(str(listed)) == (rule, )
    assert load_plan_rules(str(report)) == (rule, )
    monkeypatch.setenv('LKMM_DWCONV_CUDA_RULES', str(listed))
    assert cuda_plan_rules() == (rule, )
    plan = plan_depthwise_conv((8, 64, 32, 32), (31, 31), CUDA, FP32, 'auto')
    assert plan['forward'] == 'fft'
    bad = tmp_path / 'bad.json'
    bad.write_text('{"rules": 3}')
    with pytest.raises(ValueError, match='expected a list of rules'):
        load_plan_rules(str(bad))
    bad.write_text('not json')
    with pytest.raises(ValueError, match='is not JSON'):
        load_plan_rules(str(bad))
    with pytest.raises(FileNotFoundError, match='plan rules'):
        load_plan_rules(str(tmp_path / 'missing.json'))


def test_oversized_conv_uses_the_planned_op_on_gpus():
    from lkmm.ops import plan_oversized_conv
    assert plan_oversized_conv((56, 56), CUDA) == ('spatial', 'spatial')
    assert plan_oversized_conv((56, 7), 'cpu') == ('fft', 'torch')
