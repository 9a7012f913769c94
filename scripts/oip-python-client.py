#!/usr/bin/env python3
"""An Open Inference Protocol client in another language than the server, as a platform team's
would be: Python grpcio with stubs generated at run time (grpc_tools.protoc) from the canonical
open_inference_grpc.proto vendored unmodified in third_party/open-inference-protocol/.

Usage: oip-python-client.py <host:port>  < patients.json  > answers.json

stdin: {"patients": [{"age": 45, "gender": "male", "total_bilirubin": 0.9, ...}, ...]}, with
the inputs named as ModelMetadata lists them. stdout: what every RPC answered (ServerLive,
ServerReady, ModelReady, ServerMetadata, ModelMetadata, ModelInfer with typed contents and with
raw_input_contents) and the status of a ModelInfer missing one input, as JSON, so that the
caller (services/predict/open-inference-python.test.ts) holds the answers to liver.v1 Predict's.
Needs grpcio and grpcio-tools (Debian: python3-grpcio python3-grpc-tools).
"""
import json
import os
import struct
import sys
import tempfile

import grpc
from grpc_tools import protoc

PROTO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "third_party", "open-inference-protocol")
MODEL = "liver-disease"


def generated_stubs():
    """Compiles the canonical proto into a temporary folder and imports the modules."""
    out = tempfile.mkdtemp(prefix="oip-python-")
    code = protoc.main(["protoc", f"-I{PROTO_DIR}", f"--python_out={out}", f"--grpc_python_out={out}",
                        os.path.join(PROTO_DIR, "open_inference_grpc.proto")])
    if code != 0:
        raise SystemExit(f"protoc failed with exit code {code} on {PROTO_DIR}/open_inference_grpc.proto")
    sys.path.insert(0, out)
    import open_inference_grpc_pb2 as pb  # noqa: E402 (generated above)
    import open_inference_grpc_pb2_grpc as rpc  # noqa: E402
    return pb, rpc


def infer_request(pb, inputs, patients, raw):
    """One input per feature, shape [N]: FP64 numbers, gender as BYTES."""
    request = pb.ModelInferRequest(model_name=MODEL)
    for spec in inputs:
        name = spec.name
        column = [patient[name] for patient in patients]
        tensor = request.inputs.add(name=name, datatype=spec.datatype, shape=[len(patients)])
        if spec.datatype == "BYTES":
            encoded = [value.encode("utf-8") for value in column]
            if raw:
                request.raw_input_contents.append(b"".join(struct.pack("<I", len(v)) + v for v in encoded))
            else:
                tensor.contents.bytes_contents.extend(encoded)
        elif raw:
            request.raw_input_contents.append(struct.pack(f"<{len(column)}d", *column))
        else:
            tensor.contents.fp64_contents.extend(column)
    return request


def outputs(response, raw):
    """probability (FP64), diagnosis and feedback_token (BYTES) of a ModelInferResponse, typed or raw."""
    answer = {"model_name": response.model_name, "model_version": response.model_version}
    for index, output in enumerate(response.outputs):
        if output.name not in ("probability", "diagnosis", "feedback_token"):
            continue
        if raw:
            data = response.raw_output_contents[index]
            if output.datatype == "FP64":
                values = list(struct.unpack(f"<{len(data) // 8}d", data))
            else:
                values, at = [], 0
                while at < len(data):
                    (size,) = struct.unpack_from("<I", data, at)
                    values.append(data[at + 4:at + 4 + size].decode("utf-8"))
                    at += 4 + size
        elif output.datatype == "FP64":
            values = list(output.contents.fp64_contents)
        else:
            values = [v.decode("utf-8") for v in output.contents.bytes_contents]
        answer[output.name] = {"datatype": output.datatype, "shape": list(output.shape), "values": values}
    return answer


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: oip-python-client.py <host:port> < patients.json")
    patients = json.load(sys.stdin)["patients"]
    pb, rpc = generated_stubs()
    with grpc.insecure_channel(sys.argv[1]) as channel:
        stub = rpc.GRPCInferenceServiceStub(channel)
        metadata = stub.ModelMetadata(pb.ModelMetadataRequest(name=MODEL), timeout=20)
        server = stub.ServerMetadata(pb.ServerMetadataRequest(), timeout=20)
        result = {
            "server_live": stub.ServerLive(pb.ServerLiveRequest(), timeout=20).live,
            "server_ready": stub.ServerReady(pb.ServerReadyRequest(), timeout=20).ready,
            "model_ready": stub.ModelReady(pb.ModelReadyRequest(name=MODEL), timeout=20).ready,
            "server_metadata": {"name": server.name, "version": server.version},
            "model_metadata": {
                "name": metadata.name,
                "versions": list(metadata.versions),
                "inputs": [[t.name, t.datatype, list(t.shape)] for t in metadata.inputs],
                "outputs": [t.name for t in metadata.outputs],
            },
        }
        for raw in (False, True):
            request = infer_request(pb, metadata.inputs, patients, raw)
            response = stub.ModelInfer(request, timeout=20)
            result["raw" if raw else "typed"] = outputs(response, raw)
        incomplete = infer_request(pb, [t for t in metadata.inputs if t.name != "albumin"], patients, False)
        try:
            stub.ModelInfer(incomplete, timeout=20)
            result["missing_input"] = {"code": "OK", "details": ""}
        except grpc.RpcError as error:
            result["missing_input"] = {"code": error.code().name, "details": error.details()}
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
