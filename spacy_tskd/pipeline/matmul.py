"""Which CPU matrix multiply a ``tskd_ner`` model runs on.

thinc's ``NumpyOps`` multiplies with BLIS by default (``use_blis=True``): one thread,
and on this project's machine (AMD EPYC, 2 cores) a 6,000 x 288 by 288 x 288 product
took 44 ms with BLIS against 7 ms with NumPy's own BLAS (OpenBLAS, both cores).
The CNN student spends most of its time in those products, so its `nlp.pipe` ran
2.4x faster on NumPy's BLAS with the same entities (docs/performance.md). The
transformer's own layers run in PyTorch and are not affected; only thinc layers (the
output layer, the CNN) are.

``cpu_matmul = "numpy"`` (the component's default) gives every thinc layer of the
model ``NumpyOps(use_blis=False)``; ``"blis"`` keeps thinc's default. GPU ops
(``CupyOps``) are never touched.
"""

from __future__ import annotations

from thinc.api import Model, NumpyOps

CPU_MATMULS = ("numpy", "blis")


def check_cpu_matmul(name: str) -> str:
    if name not in CPU_MATMULS:
        raise ValueError(
            f"Unknown cpu_matmul {name!r} for tskd_ner: use 'numpy' (NumPy's BLAS, "
            "multi-threaded) or 'blis' (thinc's default, one thread)."
        )
    return name


def set_cpu_matmul(model: Model, name: str) -> Model:
    """Give every CPU layer of ``model`` the ops of ``name``; return ``model``."""
    use_blis = check_cpu_matmul(name) == "blis"
    ops = None
    for node in model.walk():
        if type(node.ops) is NumpyOps and node.ops.use_blis != use_blis:
            ops = ops or NumpyOps(use_blis=use_blis)
            node.ops = ops
    return model
