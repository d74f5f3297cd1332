"""Build the small ONNX models that the inference tests run through ONNX Runtime.

Run from the repository root with Debian's Python (onnx 1.12):

    /usr/bin/python3 inference/testdata/make_models.py

Each model is a few element-wise operators with no weights, so its output is a known
function of its input. Tensors are float32 [1, C, D, H, W] with fixed shapes, as the
inference contract requires. README.md in this folder lists what each file computes.
"""

import os

import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))

# Opset 13 is old enough for every ONNX Runtime release that onnxruntime_go supports and
# has Clip with tensor bounds and Slice with tensor arguments.
OPSET = 13
# IR version 7 matches opset 13 and keeps the files loadable by older runtimes.
IR_VERSION = 7


def const(name, values, dtype=TensorProto.FLOAT):
    """Return a Constant node that outputs a 1D tensor, or a scalar when values is a float."""
    if isinstance(values, (int, float)):
        tensor = helper.make_tensor(name, dtype, [], [values])
    else:
        tensor = helper.make_tensor(name, dtype, [len(values)], values)
    return helper.make_node("Constant", [], [name], value=tensor)


def value_info(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def save(nodes, inputs, outputs, path):
    graph = helper.make_graph(nodes, os.path.basename(path).removesuffix(".onnx"), inputs, outputs)
    model = helper.make_model(graph, producer_name="protrude-inference-testdata",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    onnx.save(model, path)


def slice_channel(source, channel, output, prefix):
    """Return nodes that take channel `channel` of `source` ([1, C, ...]) as [1, 1, ...]."""
    return [
        const(prefix + "_starts", [channel], TensorProto.INT64),
        const(prefix + "_ends", [channel + 1], TensorProto.INT64),
        const(prefix + "_axes", [1], TensorProto.INT64),
        helper.make_node("Slice", [source, prefix + "_starts", prefix + "_ends", prefix + "_axes"], [output]),
    ]


def double_model(path, channels, patch):
    """y = 2 * x on [1, channels, *patch]."""
    shape = [1, channels, *patch]
    nodes = [
        const("two", 2.0),
        helper.make_node("Mul", ["x", "two"], ["y"]),
    ]
    save(nodes, [value_info("x", shape)], [value_info("y", shape)], path)


def base_model(path, patch, input_name="image", output_name="probabilities",
               input_shape=None, output_channels=2, input_type=TensorProto.FLOAT,
               extra_output=False):
    """probabilities = concat(kidney = (x + 1) / 2, tumor = clip(x, 0, 1)) along channels.

    The keyword arguments build the broken variants used by the bundle validation tests.
    """
    if input_shape is None:
        input_shape = [1, 1, *patch]
    nodes = []
    x = input_name
    if input_type != TensorProto.FLOAT:
        nodes.append(helper.make_node("Cast", [input_name], ["x_float"], to=TensorProto.FLOAT))
        x = "x_float"
    if input_shape[1] != 1:
        # A variant with several input channels reads only the first one.
        nodes += slice_channel(x, 0, "x_first", "first")
        x = "x_first"
    nodes += [
        const("one", 1.0),
        const("half", 0.5),
        const("zero", 0.0),
        helper.make_node("Add", [x, "one"], ["x_plus_one"]),
        helper.make_node("Mul", ["x_plus_one", "half"], ["kidney"]),
        helper.make_node("Clip", [x, "zero", "one"], ["tumor"]),
    ]
    # Extra channels repeat the tumor channel, so a model with the wrong channel count
    # still runs.
    channels = ["kidney", "tumor"] + ["tumor"] * (output_channels - 2)
    nodes.append(helper.make_node("Concat", channels[:output_channels], [output_name], axis=1))
    output_shape = [input_shape[0], output_channels, *input_shape[2:]]
    outputs = [value_info(output_name, output_shape)]
    if extra_output:
        outputs.append(value_info("kidney", [input_shape[0], 1, *input_shape[2:]]))
    save(nodes, [value_info(input_name, input_shape, input_type)], outputs, path)


def shift_nodes(source, axis, output, prefix, length, fill=-1.0):
    """Return nodes for output[..., i, ...] = source[..., i + 1, ...] along axis, with
    fill after the last index. The default -1 is normalised air, the pad value for CT."""
    pads = [0] * 10
    pads[5 + axis] = 1
    return [
        const(prefix + "_starts", [1], TensorProto.INT64),
        const(prefix + "_ends", [length], TensorProto.INT64),
        const(prefix + "_axes", [axis], TensorProto.INT64),
        helper.make_node("Slice", [source, prefix + "_starts", prefix + "_ends", prefix + "_axes"], [prefix + "_cut"]),
        const(prefix + "_pads", pads, TensorProto.INT64),
        const(prefix + "_fill", fill),
        helper.make_node("Pad", [prefix + "_cut", prefix + "_pads", prefix + "_fill"], [output], mode="constant"),
    ]


def oriented_base_model(path, patch):
    """Like base_model, but kidney reads the voxel one step along +W (+L) and tumor the
    voxel one step along +H (+P), so a swapped or reversed axis changes the result."""
    shape = [1, 1, *patch]
    nodes = shift_nodes("image", 4, "x_left", "left", patch[2])
    nodes += shift_nodes("image", 3, "x_posterior", "posterior", patch[1])
    nodes += [
        const("one", 1.0),
        const("half", 0.5),
        const("zero", 0.0),
        helper.make_node("Add", ["x_left", "one"], ["x_plus_one"]),
        helper.make_node("Mul", ["x_plus_one", "half"], ["kidney"]),
        helper.make_node("Clip", ["x_posterior", "zero", "one"], ["tumor"]),
        helper.make_node("Concat", ["kidney", "tumor"], ["probabilities"], axis=1),
    ]
    save(nodes, [value_info("image", shape)], [value_info("probabilities", [1, 2, *patch])], path)


def oriented_protuberance_model(path, patch):
    """protrusion_probability = 1 - kidney_probability one voxel along +D (+S), with 0
    beyond the patch, the pad value for probabilities."""
    shape = [1, 1, *patch]
    nodes = shift_nodes("kidney_probability", 2, "kidney_superior", "superior", patch[0], fill=0.0)
    nodes += [
        const("one", 1.0),
        helper.make_node("Sub", ["one", "kidney_superior"], ["protrusion_probability"]),
    ]
    save(nodes, [value_info("kidney_probability", shape)],
         [value_info("protrusion_probability", shape)], path)


def protuberance_model(path, patch):
    """protrusion_probability = 1 - kidney_probability."""
    shape = [1, 1, *patch]
    nodes = [
        const("one", 1.0),
        helper.make_node("Sub", ["one", "kidney_probability"], ["protrusion_probability"]),
    ]
    save(nodes, [value_info("kidney_probability", shape)],
         [value_info("protrusion_probability", shape)], path)


def fusion_model(path, patch):
    """tumor_probability = lesion * (image + 1) / 2, with image = channel 0, lesion = channel 1."""
    nodes = slice_channel("image_and_lesion", 0, "image", "image")
    nodes += slice_channel("image_and_lesion", 1, "lesion", "lesion")
    nodes += [
        const("one", 1.0),
        const("half", 0.5),
        helper.make_node("Add", ["image", "one"], ["image_plus_one"]),
        helper.make_node("Mul", ["image_plus_one", "half"], ["image_unit"]),
        helper.make_node("Mul", ["lesion", "image_unit"], ["tumor_probability"]),
    ]
    save(nodes, [value_info("image_and_lesion", [1, 2, *patch])],
         [value_info("tumor_probability", [1, 1, *patch])], path)


def main():
    double_model(os.path.join(HERE, "double_c2_p16x24x32.onnx"), 2, [16, 24, 32])

    patch = [32, 32, 32]
    chain = os.path.join(HERE, "chain")
    base_model(os.path.join(chain, "base.onnx"), patch)
    protuberance_model(os.path.join(chain, "protuberance.onnx"), patch)
    fusion_model(os.path.join(chain, "fusion.onnx"), patch)

    oriented = os.path.join(HERE, "oriented")
    oriented_base_model(os.path.join(oriented, "base.onnx"), patch)
    oriented_protuberance_model(os.path.join(oriented, "protuberance.onnx"), patch)
    fusion_model(os.path.join(oriented, "fusion.onnx"), patch)

    bad = os.path.join(HERE, "bad")
    base_model(os.path.join(bad, "base_input_name_ct.onnx"), patch, input_name="ct")
    base_model(os.path.join(bad, "base_output_name_probs.onnx"), patch, output_name="probs")
    base_model(os.path.join(bad, "base_input_channels_2.onnx"), patch, input_shape=[1, 2, *patch])
    base_model(os.path.join(bad, "base_output_channels_3.onnx"), patch, output_channels=3)
    base_model(os.path.join(bad, "base_spatial_32x32x64.onnx"), patch, input_shape=[1, 1, 32, 32, 64])
    base_model(os.path.join(bad, "base_dynamic_depth.onnx"), patch, input_shape=[1, 1, "depth", 32, 32])
    base_model(os.path.join(bad, "base_batch_2.onnx"), patch, input_shape=[2, 1, *patch])
    base_model(os.path.join(bad, "base_input_float64.onnx"), patch, input_type=TensorProto.DOUBLE)
    base_model(os.path.join(bad, "base_two_outputs.onnx"), patch, extra_output=True)


if __name__ == "__main__":
    main()
