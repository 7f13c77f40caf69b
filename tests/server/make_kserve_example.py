#!/usr/bin/python3
# make_kserve_example.py - writes the model that the KServe v2 specification's example request talks to: inputs
# "input0" UINT32 [2,2] and "input1" BOOL [3], output "output0" FP32 [2,2] = float(input0) and "output1" INT32 [3]
# = int(input1). Used by tests/server/run.sh (needs Debian's python3-onnx).  usage: make_kserve_example.py DIR
import sys
import onnx
from onnx import TensorProto, helper

g = helper.make_graph(
    [helper.make_node("Cast", ["input0"], ["output0"], to=TensorProto.FLOAT, name="cast0"),
     helper.make_node("Cast", ["input1"], ["output1"], to=TensorProto.INT32, name="cast1")],
    "kserve_example",
    [helper.make_tensor_value_info("input0", TensorProto.UINT32, [2, 2]),
     helper.make_tensor_value_info("input1", TensorProto.BOOL, [3])],
    [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [2, 2]),
     helper.make_tensor_value_info("output1", TensorProto.INT32, [3])])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="tandem-tests")
m.ir_version = 7
onnx.checker.check_model(m)
onnx.save(m, sys.argv[1] + "/model.onnx")
