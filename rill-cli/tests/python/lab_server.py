"""A third-party server for the `rill` CLI tests: Python grpcio with grpcio-reflection (which
serves only grpc.reflection.v1alpha) and grpcio-health-checking.

Usage: python lab_server.py PROTO_DIR

Generates the stubs of clitest.proto with grpc_tools.protoc into a temporary directory, serves
clitest.Lab, health and reflection on 127.0.0.1 (a free port), prints `listening PORT`, and
stops when its stdin closes.

Needs grpcio, grpcio-tools, grpcio-status, grpcio-health-checking, grpcio-reflection.
"""

import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent import futures

import grpc
from google.protobuf import any_pb2, json_format
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from grpc_status import rpc_status


def generate(proto_dir, out_dir):
    command = [
        sys.executable, "-m", "grpc_tools.protoc", "-I", proto_dir,
        f"--python_out={out_dir}", f"--grpc_python_out={out_dir}", "clitest.proto",
        "clitest_extra.proto",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        sys.exit(f"lab_server.py: protoc failed: {result.stderr}")
    sys.path.insert(0, out_dir)


def main():
    proto_dir = sys.argv[1]
    out_dir = tempfile.mkdtemp(prefix="rill-cli-lab-")
    generate(proto_dir, out_dir)
    import clitest_pb2 as pb
    import clitest_pb2_grpc as pb_grpc
    # Not imported by clitest.proto: in the reflection pool only because it is loaded here.
    import clitest_extra_pb2 as extra_pb

    def echoed(context):
        return [(k, v) for k, v in context.invocation_metadata() if k.startswith("x-")]

    class Lab(pb_grpc.LabServicer):
        def Echo(self, request, context):
            metadata = echoed(context)
            context.send_initial_metadata(metadata)
            context.set_trailing_metadata([(f"{k[:-4]}-echo-bin" if k.endswith("-bin") else f"{k}-echo", v) for k, v in metadata])
            reply = pb.Sample()
            reply.CopyFrom(request)
            reply.seen = json_format.MessageToJson(request, indent=None, sort_keys=True)
            del reply.tags[:]
            reply.tags.extend(f"{k}={v}" for k, v in metadata if not k.endswith("-bin"))
            if request.text == "surprise":
                reply.any.Pack(extra_pb.Note(text="from the server"))
            return reply

        def Count(self, request, context):
            for i in range(1, request.n + 1):
                yield pb.Sample(big=i)

        def Sum(self, request_iterator, context):
            total, count = 0, 0
            for sample in request_iterator:
                total += sample.big
                count += 1
            return pb.Sample(big=total, tags=[f"count={count}"])

        def Chat(self, request_iterator, context):
            for sample in request_iterator:
                reply = pb.Sample()
                reply.CopyFrom(sample)
                reply.text = sample.text.upper()
                yield reply

        def Sleep(self, request, context):
            end = time.monotonic() + request.seconds
            while time.monotonic() < end and context.is_active():
                time.sleep(0.02)
            return pb.Sample(text="awake")

        def Fail(self, request, context):
            violation = error_details_pb2.BadRequest.FieldViolation(
                field="reason", description=f"{request.reason!r} is not acceptable")
            details = [error_details_pb2.BadRequest(field_violations=[violation]),
                       error_details_pb2.ErrorInfo(reason="LAB_FAILED", domain="clitest.example",
                                                   metadata={"attempt": "1"})]
            packed = []
            for detail in details:
                any_message = any_pb2.Any()
                any_message.Pack(detail)
                packed.append(any_message)
            status = status_pb2.Status(code=code_pb2.FAILED_PRECONDITION, message="lab failed",
                                       details=packed)
            context.abort_with_status(rpc_status.to_status(status))

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    pb_grpc.add_LabServicer_to_server(Lab(), server)
    health_servicer = health.HealthServicer()
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_servicer.set("clitest.Lab", health_pb2.HealthCheckResponse.SERVING)
    health_servicer.set("clitest.Down", health_pb2.HealthCheckResponse.NOT_SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = (
        pb.DESCRIPTOR.services_by_name["Lab"].full_name,
        health.SERVICE_NAME,
        reflection.SERVICE_NAME,
    )
    reflection.enable_server_reflection(names, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(f"listening {port}", flush=True)
    # Stops when the test closes our stdin (or dies).
    sys.stdin.read()
    server.stop(0)
    os._exit(0)


if __name__ == "__main__":
    main()
