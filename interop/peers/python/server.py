"""grpcio (C-core) interop test server for rill's interop matrix.

Implements grpc.testing.TestService per grpc/grpc
doc/interop-test-descriptions.md ("Server" section). grpcio does not tell a
handler whether a request message arrived compressed, so the
CompressedRequest feature (expect_compressed) cannot be checked: such a
request fails with UNIMPLEMENTED and interop/run marks client_compressed_*
against this server as n/a. CompressedResponse is implemented
(set_compression / disable_next_message_compression).
"""

import argparse
import sys
import threading
import time
from concurrent import futures

import grpc

from common import (CODES, ECHO_INITIAL_KEY, ECHO_TRAILING_KEY, MAX_MESSAGE_SIZE, TESTDATA,
                    empty_pb2, messages_pb2, parse_bool, test_pb2_grpc)


def _echo_metadata(context):
    initial, trailing = [], []
    for key, value in context.invocation_metadata():
        if key == ECHO_INITIAL_KEY:
            initial.append((key, value))
        elif key == ECHO_TRAILING_KEY:
            trailing.append((key, value))
    if initial:
        context.send_initial_metadata(tuple(initial[:1]))
    if trailing:
        context.set_trailing_metadata(tuple(trailing[:1]))


def _payload(response_type, size, context):
    if response_type != messages_pb2.COMPRESSABLE:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"unsupported payload type {response_type}")
    if size < 0:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"negative response size {size}")
    return messages_pb2.Payload(type=response_type, body=b"\0" * size)


def _echo_status(request, context):
    if request.HasField("response_status") and request.response_status.code != 0:
        code = CODES.get(request.response_status.code, grpc.StatusCode.UNKNOWN)
        context.abort(code, request.response_status.message)


def _check_expect_compressed(request, context):
    if request.HasField("expect_compressed") and request.expect_compressed.value:
        context.abort(grpc.StatusCode.UNIMPLEMENTED,
                      "grpcio cannot observe whether a request message was compressed")


class TestService(test_pb2_grpc.TestServiceServicer):
    def EmptyCall(self, request, context):
        _echo_metadata(context)
        return empty_pb2.Empty()

    def UnaryCall(self, request, context):
        _echo_metadata(context)
        _check_expect_compressed(request, context)
        _echo_status(request, context)
        if request.HasField("response_compressed"):
            context.set_compression(grpc.Compression.Gzip if request.response_compressed.value
                                    else grpc.Compression.NoCompression)
        # fill_username / fill_oauth_scope: no authentication here, left empty.
        return messages_pb2.SimpleResponse(
            payload=_payload(request.response_type, request.response_size, context))

    def CacheableUnaryCall(self, request, context):
        _echo_metadata(context)
        context.send_initial_metadata((("cache-control", "max-age=60, public"),))
        return messages_pb2.SimpleResponse(
            payload=messages_pb2.Payload(body=str(time.time_ns()).encode()))

    def _responses(self, request, context, call_compressed):
        for params in request.response_parameters:
            if params.interval_us > 0:
                time.sleep(params.interval_us / 1e6)
            if call_compressed and params.HasField("compressed") and not params.compressed.value:
                context.disable_next_message_compression()
            yield messages_pb2.StreamingOutputCallResponse(
                payload=_payload(request.response_type, params.size, context))

    @staticmethod
    def _wants_compression(request):
        return any(p.HasField("compressed") and p.compressed.value for p in request.response_parameters)

    def StreamingOutputCall(self, request, context):
        _echo_metadata(context)
        _echo_status(request, context)
        compressed = self._wants_compression(request)
        if compressed:
            context.set_compression(grpc.Compression.Gzip)
        yield from self._responses(request, context, compressed)

    def StreamingInputCall(self, request_iterator, context):
        _echo_metadata(context)
        total = 0
        for request in request_iterator:
            _check_expect_compressed(request, context)
            total += len(request.payload.body)
        return messages_pb2.StreamingInputCallResponse(aggregated_payload_size=total)

    def FullDuplexCall(self, request_iterator, context):
        _echo_metadata(context)
        compressed = False
        for request in request_iterator:
            _echo_status(request, context)
            if not compressed and self._wants_compression(request):
                context.set_compression(grpc.Compression.Gzip)
                compressed = True
            yield from self._responses(request, context, compressed)

    def HalfDuplexCall(self, request_iterator, context):
        _echo_metadata(context)
        requests = []
        for request in request_iterator:
            _echo_status(request, context)
            requests.append(request)
        for request in requests:
            yield from self._responses(request, context, False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=10000)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--use_tls", type=parse_bool, default=False)
    args = parser.parse_args()

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=32),
        options=[("grpc.max_receive_message_length", MAX_MESSAGE_SIZE),
                 ("grpc.max_send_message_length", MAX_MESSAGE_SIZE)])
    test_pb2_grpc.add_TestServiceServicer_to_server(TestService(), server)
    address = f"{args.host}:{args.port}"
    if args.use_tls:
        with open(f"{TESTDATA}/server1.key", "rb") as key, open(f"{TESTDATA}/server1.pem", "rb") as cert:
            creds = grpc.ssl_server_credentials([(key.read(), cert.read())])
        bound = server.add_secure_port(address, creds)
    else:
        bound = server.add_insecure_port(address)
    if not bound:
        sys.exit(f"python peer: cannot bind {address}")
    server.start()
    print(f"grpcio {grpc.__version__} interop server listening on {address}", flush=True)
    stop = threading.Event()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    server.stop(0)


if __name__ == "__main__":
    main()
