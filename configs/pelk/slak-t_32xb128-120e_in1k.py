# PeLK Table 1 "SLaK-51, w/ sparsity": SLaK-T (1.3x width, 40% dynamic
# sparsity), 120 epochs: 81.6 top-1. SLaK-T's sparsity settings on the
# ablations' 120-epoch recipe (configs/pelk/README.md); Table 1's other rows:
# replk-51-t_32xb128-120e_in1k.py, slak-t_no-sparsity-w1x_32xb128-120e_in1k.py.
_base_ = './pelk-t_no-sparsity_32xb128-120e_in1k.py'

model = dict(backbone=dict(arch='slak-t'))

# Sparsity and EMA as SLaK-T (update_buffers: see
# pelk-t_32xb128-300e_in1k.py).
custom_hooks = [
    dict(type='lkmm.DynamicSparsityHook', sparsity=0.4, init='snip',
         update_interval=2000, prune_rate=0.5, rate_decay='cosine'),
    dict(type='EMAHook', momentum=1e-4, update_buffers=True,
         priority='ABOVE_NORMAL'),
]
