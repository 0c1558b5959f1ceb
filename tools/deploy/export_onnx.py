"""Export a trained checkpoint, deployed, to a checked ONNX file.

Usage: python tools/deploy/export_onnx.py CONFIG CKPT OUT.onnx
           [--shape H W] [--dynamic] [--device cpu|cuda]
           [--cfg-options ...]

Writes OUT only when onnxruntime reproduces PyTorch's outputs (1e-4
relative) and the graph has no FFT node; prints the file size, the
difference and the onnxruntime / PyTorch CPU latency ratio. See ``-h``; the
logic lives in :mod:`lkmm.cli.export_onnx` and
:mod:`lkmm.deploy.onnx_export`.
"""
import sys

import lkmm  # noqa: F401  (registers lkmm, safe checkpoint loading)
from lkmm.cli.export_onnx import export_onnx_main

if __name__ == '__main__':
    sys.exit(export_onnx_main())
