# Dense vs dilated kernels (arXiv Appendix C, Appendix E of the CVPR version;
# Table 12): every depth-wise conv 3x3 with dilation 8, reaching as far as a
# dense 17x17 one (mobilenet-v2-k17_8xb32-100e_in1k.py) with the parameters of
# a 3x3. Table 12's numbers did not survive the text extraction (README.md).
# Recipe: mobilenet-v2-k3_8xb32-100e_in1k.py.
_base_ = './mobilenet-v2-k3_8xb32-100e_in1k.py'

model = dict(backbone=dict(arch='k3-dil8'))
