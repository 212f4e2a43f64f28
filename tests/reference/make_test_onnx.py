"""Write a small ONNX graph with the operators the face-mask model uses
(3-D Conv, Relu, MaxPool, Resize, Concat, Sigmoid) and the Add a model
trained with `--output-grid 64` adds, for tests/deface_onnx_runtime.rs.

    python make_test_onnx.py OUT.onnx

Input `image` [1, 1, 8, 4, 6] float32 (fixed, as the bundled model's
shapes are: tract cannot prove symbolic sizes equal through the pooling
and resizing, and refuses the concatenation); output `mask`, same shape:

    c = conv3x3x3(image)                       (zero padding 1)
    u = resize_nearest_x2(maxpool_2(relu(c)))
    m = conv1x1x1(concat(u, image))            (two channels in, one out)
    mask = sigmoid(m + c)

The 3x3x3 convolution's weights are w[z][y][x] = (z - 1) * 0.5 + (y - 1)
* 0.25 + (x - 1) * 0.125, bias 0.1; the 1x1x1 one weighs u by 1 and image
by -0.5, bias 0.05 (the concatenation's order matters). The Rust test
recomputes the graph by hand and compares.
"""

import sys

import onnx
from onnx import TensorProto, helper


def main(out):
    weights = [
        (z - 1) * 0.5 + (y - 1) * 0.25 + (x - 1) * 0.125
        for z in range(3)
        for y in range(3)
        for x in range(3)
    ]
    w = helper.make_tensor("w", TensorProto.FLOAT, [1, 1, 3, 3, 3], weights)
    b = helper.make_tensor("b", TensorProto.FLOAT, [1], [0.1])
    scales = helper.make_tensor("scales", TensorProto.FLOAT, [5], [1, 1, 2, 2, 2])
    w2 = helper.make_tensor("w2", TensorProto.FLOAT, [1, 2, 1, 1, 1], [1.0, -0.5])
    b2 = helper.make_tensor("b2", TensorProto.FLOAT, [1], [0.05])
    nodes = [
        helper.make_node("Conv", ["image", "w", "b"], ["c"], kernel_shape=[3, 3, 3], pads=[1] * 6),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2, 2], strides=[2, 2, 2]),
        helper.make_node("Resize", ["p", "", "scales"], ["u"], mode="nearest"),
        helper.make_node("Concat", ["u", "image"], ["cat"], axis=1),
        helper.make_node("Conv", ["cat", "w2", "b2"], ["m"], kernel_shape=[1, 1, 1]),
        helper.make_node("Add", ["m", "c"], ["a"]),
        helper.make_node("Sigmoid", ["a"], ["mask"]),
    ]
    dims = [1, 1, 8, 4, 6]
    graph = helper.make_graph(
        nodes,
        "face_mask_test",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info("mask", TensorProto.FLOAT, dims)],
        initializer=[w, b, scales, w2, b2],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, out)


if __name__ == "__main__":
    main(sys.argv[1])
