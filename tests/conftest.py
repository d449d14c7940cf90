"""All tests: Triton kernels run through the interpreter where there is no GPU.

TRITON_INTERPRET must be set before triton is imported (``triton.jit`` picks the
interpreter when a kernel is decorated, i.e. when ``kernels`` is imported). With
CUDA present it is left alone, so the Triton tests run compiled on the GPU.
"""

import os

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
