"""A grpcio server for rill's retry tests: EmptyCall of grpc.testing.TestService fails twice
with UNAVAILABLE (asking for a 10 ms pushback the first time), then succeeds. Prints
`port N` once listening, then one line per attempt with the grpc-previous-rpc-attempts it
carried. Exits when stdin closes."""
import sys
from concurrent import futures

import grpc

attempts = []


def empty_call(request, context):
    metadata = dict(context.invocation_metadata())
    attempts.append(metadata.get("grpc-previous-rpc-attempts", "-"))
    print(f"attempt {len(attempts)} previous {attempts[-1]}", flush=True)
    if len(attempts) == 1:
        context.set_trailing_metadata((("grpc-retry-pushback-ms", "10"),))
    if len(attempts) <= 2:
        context.abort(grpc.StatusCode.UNAVAILABLE, "flaky")
    return b""


def identity(data):
    return data


handler = grpc.method_handlers_generic_handler(
    "grpc.testing.TestService",
    {"EmptyCall": grpc.unary_unary_rpc_method_handler(empty_call, identity, identity)},
)
server = grpc.server(futures.ThreadPoolExecutor(4))
server.add_generic_rpc_handlers((handler,))
port = server.add_insecure_port("127.0.0.1:0")
server.start()
print(f"port {port}", flush=True)
sys.stdin.read()
server.stop(0)
