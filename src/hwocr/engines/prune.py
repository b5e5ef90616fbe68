"""Cut a CTC model's classifier head down to the classes a language can use.

Restricting a softmax to a subset of classes and renormalising equals the softmax of that subset's
logits, so a head with only the kept columns gives the same restricted probabilities while the
final MatMul, the softmax and everything downstream handle a fraction of the classes (PP-OCRv6:
18 710 -> about 7 000 for zh or 6 500 for ja).
"""

from __future__ import annotations

import numpy as np

_PASS_THROUGH = ("Softmax", "Identity", "Convert")


def prune_head(model, keep: np.ndarray) -> bool:
    """Keep only the classes ``keep`` (sorted indices) in ``model``'s output, in place.

    Handles the common head ``MatMul(x, W[F, C]) [+ b[C]] [-> Softmax]`` with constant W and b.
    Returns False, leaving the model untouched, when the graph does not have that shape.
    """
    from ..ovruntime import openvino

    openvino()  # telemetry off, if this is the first use of OpenVINO
    import openvino.opset13 as ops

    results = model.get_results()
    if len(results) != 1:
        return False
    node = results[0].input_value(0).get_node()
    add = None
    for _ in range(8):
        kind = node.get_type_name()
        if kind in _PASS_THROUGH:
            node = node.input_value(0).get_node()
        elif kind == "Add" and add is None:
            add = node
            node = node.input_value(0).get_node()
        elif kind == "MatMul":
            break
        else:
            return False
    else:
        return False
    matmul = node
    attrs = matmul.get_attributes()
    w_node = matmul.input_value(1).get_node()
    if w_node.get_type_name() != "Constant" or attrs.get("transpose_a"):
        return False
    W = w_node.get_data()
    axis = 0 if attrs.get("transpose_b") else W.ndim - 1
    C = W.shape[axis]
    if keep.size == 0 or keep.max() >= C:
        return False
    bias = None
    if add is not None:
        b_node = add.input_value(1).get_node()
        if b_node.get_type_name() != "Constant":
            return False
        B = b_node.get_data()
        if B.shape[-1] != C or B.size != C:
            return False
        bias = ops.constant(np.ascontiguousarray(B.reshape(-1)[keep].reshape(B.shape[:-1] + (keep.size,))))
    matmul.input(1).replace_source_output(ops.constant(np.ascontiguousarray(np.take(W, keep, axis=axis))).output(0))
    if bias is not None:
        add.input(1).replace_source_output(bias.output(0))
    model.validate_nodes_and_infer_types()
    return True
