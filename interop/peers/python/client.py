"""grpcio (C-core) interop test client for rill's interop matrix.

Implements the non-cloud test cases of grpc/grpc
doc/interop-test-descriptions.md. Exit status: 0 pass, 1 fail (reason on
stderr), 3 case not implemented by this client ("n/a: reason").

grpcio does not expose the compressed flag of received messages, so
server_compressed_* check everything but that flag (the spec allows this:
"if supported by the implementation").
"""

import argparse
import queue
import sys
import time

import grpc

from common import (ECHO_INITIAL_KEY, ECHO_TRAILING_KEY, MAX_MESSAGE_SIZE, TESTDATA, empty_pb2,
                    messages_pb2, parse_bool, test_pb2_grpc)

ECHO_INITIAL_VALUE = "test_initial_metadata_value"
ECHO_TRAILING_VALUE = b"\xab\xab\xab"
RPC_TIMEOUT = 30


class Failure(Exception):
    pass


class NotApplicable(Exception):
    pass


def zeros(n):
    return messages_pb2.Payload(body=b"\0" * n)


def check_body(what, payload, size):
    if len(payload.body) != size:
        raise Failure(f"{what}: payload body is {len(payload.body)} bytes, want {size}")
    if payload.body.count(0) != size:
        raise Failure(f"{what}: payload body is not all zeros")


def want_code(what, error, code):
    if error is None:
        raise Failure(f"{what}: call succeeded, want {code.name}")
    if error.code() != code:
        raise Failure(f"{what}: got {error.code().name} ({error.details()!r}), want {code.name}")


def call_error(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except grpc.RpcError as error:
        return error
    return None


class Pipe:
    """A request iterator fed by the test while the call runs."""

    def __init__(self):
        self._queue = queue.Queue()

    def add(self, item):
        self._queue.put(item)

    def close(self):
        self._queue.put(None)

    def __iter__(self):
        return self

    def __next__(self):
        item = self._queue.get()
        if item is None:
            raise StopIteration
        return item


class Client:
    def __init__(self, args):
        self.args = args
        self.channel = self.new_channel()
        self.stub = test_pb2_grpc.TestServiceStub(self.channel)

    def new_channel(self):
        a = self.args
        target = f"{a.server_host}:{a.server_port}"
        options = [("grpc.max_receive_message_length", MAX_MESSAGE_SIZE),
                   ("grpc.max_send_message_length", MAX_MESSAGE_SIZE)]
        if a.server_host_override:
            options.append(("grpc.ssl_target_name_override" if a.use_tls else "grpc.default_authority",
                            a.server_host_override))
        if a.use_tls:
            roots = None
            if a.use_test_ca:
                with open(f"{TESTDATA}/ca.pem", "rb") as f:
                    roots = f.read()
            return grpc.secure_channel(target, grpc.ssl_channel_credentials(roots), options)
        return grpc.insecure_channel(target, options)

    # -- cases ---------------------------------------------------------------

    def empty_unary(self):
        response = self.stub.EmptyCall(empty_pb2.Empty(), timeout=RPC_TIMEOUT)
        if not isinstance(response, empty_pb2.Empty):
            raise Failure(f"EmptyCall returned {response!r}")

    def _large_unary(self, stub, request_size, response_size):
        response = stub.UnaryCall(messages_pb2.SimpleRequest(
            response_size=response_size, payload=zeros(request_size)), timeout=RPC_TIMEOUT)
        check_body("UnaryCall response", response.payload, response_size)

    def large_unary(self):
        self._large_unary(self.stub, 271828, 314159)

    def very_large_request(self):
        self._large_unary(self.stub, 10 << 20, 10)

    def client_compressed_unary(self):
        def request(expect):
            return messages_pb2.SimpleRequest(expect_compressed=messages_pb2.BoolValue(value=expect),
                                              response_size=314159, payload=zeros(271828))
        error = call_error(self.stub.UnaryCall, request(True), timeout=RPC_TIMEOUT)
        want_code("probe (uncompressed, expect_compressed=true)", error, grpc.StatusCode.INVALID_ARGUMENT)
        response = self.stub.UnaryCall(request(True), timeout=RPC_TIMEOUT, compression=grpc.Compression.Gzip)
        check_body("compressed UnaryCall response", response.payload, 314159)
        response = self.stub.UnaryCall(request(False), timeout=RPC_TIMEOUT)
        check_body("uncompressed UnaryCall response", response.payload, 314159)

    def server_compressed_unary(self):
        for compressed in (True, False):
            response = self.stub.UnaryCall(messages_pb2.SimpleRequest(
                response_compressed=messages_pb2.BoolValue(value=compressed),
                response_size=314159, payload=zeros(271828)), timeout=RPC_TIMEOUT)
            check_body(f"UnaryCall response (response_compressed={compressed})", response.payload, 314159)
        print("note: grpcio does not expose the compressed flag; it was not checked")

    def client_streaming(self):
        requests = [messages_pb2.StreamingInputCallRequest(payload=zeros(n)) for n in (27182, 8, 1828, 45904)]
        response = self.stub.StreamingInputCall(iter(requests), timeout=RPC_TIMEOUT)
        if response.aggregated_payload_size != 74922:
            raise Failure(f"aggregated_payload_size {response.aggregated_payload_size}, want 74922")

    def client_compressed_streaming(self):
        raise NotApplicable("grpcio cannot disable compression for one message of a client stream")

    @staticmethod
    def _check_responses(responses, sizes):
        responses = list(responses)
        if len(responses) != len(sizes):
            raise Failure(f"got {len(responses)} responses, want {len(sizes)}")
        for i, (response, size) in enumerate(zip(responses, sizes)):
            check_body(f"response {i}", response.payload, size)

    def server_streaming(self):
        sizes = (31415, 9, 2653, 58979)
        request = messages_pb2.StreamingOutputCallRequest(
            response_parameters=[messages_pb2.ResponseParameters(size=s) for s in sizes])
        self._check_responses(self.stub.StreamingOutputCall(request, timeout=RPC_TIMEOUT), sizes)

    def server_compressed_streaming(self):
        request = messages_pb2.StreamingOutputCallRequest(response_parameters=[
            messages_pb2.ResponseParameters(compressed=messages_pb2.BoolValue(value=True), size=31415),
            messages_pb2.ResponseParameters(compressed=messages_pb2.BoolValue(value=False), size=92653),
        ])
        self._check_responses(self.stub.StreamingOutputCall(request, timeout=RPC_TIMEOUT), (31415, 92653))
        print("note: grpcio does not expose the compressed flag; it was not checked")

    def ping_pong(self):
        pipe = Pipe()
        call = self.stub.FullDuplexCall(pipe, timeout=RPC_TIMEOUT)
        try:
            for i, (response_size, request_size) in enumerate(
                    ((31415, 27182), (9, 8), (2653, 1828), (58979, 45904))):
                pipe.add(messages_pb2.StreamingOutputCallRequest(
                    response_parameters=[messages_pb2.ResponseParameters(size=response_size)],
                    payload=zeros(request_size)))
                check_body(f"response {i}", next(call).payload, response_size)
        finally:
            pipe.close()
        rest = list(call)
        if rest:
            raise Failure(f"{len(rest)} responses after half-close, want none")
        if call.code() != grpc.StatusCode.OK:
            raise Failure(f"status {call.code()}, want OK")

    def empty_stream(self):
        responses = list(self.stub.FullDuplexCall(iter(()), timeout=RPC_TIMEOUT))
        if responses:
            raise Failure(f"got {len(responses)} responses, want none")

    def cancel_after_begin(self):
        pipe = Pipe()
        future = self.stub.StreamingInputCall.future(pipe)
        future.cancel()
        pipe.close()
        if not future.cancelled() and future.code() != grpc.StatusCode.CANCELLED:
            raise Failure(f"call completed with {future.code()}, want CANCELLED")

    def cancel_after_first_response(self):
        pipe = Pipe()
        call = self.stub.FullDuplexCall(pipe)
        pipe.add(messages_pb2.StreamingOutputCallRequest(
            response_parameters=[messages_pb2.ResponseParameters(size=31415)], payload=zeros(27182)))
        try:
            next(call)
            call.cancel()
            error = call_error(next, call)
        finally:
            pipe.close()
        want_code("cancelled FullDuplexCall", error, grpc.StatusCode.CANCELLED)

    def timeout_on_sleeping_server(self):
        pipe = Pipe()
        call = self.stub.FullDuplexCall(pipe, timeout=0.001)
        pipe.add(messages_pb2.StreamingOutputCallRequest(payload=zeros(27182)))
        try:
            error = call_error(next, call)
        finally:
            pipe.close()
        want_code("FullDuplexCall with 1ms deadline", error, grpc.StatusCode.DEADLINE_EXCEEDED)

    @staticmethod
    def _check_echo(what, initial, trailing):
        got_initial = [v for k, v in initial if k == ECHO_INITIAL_KEY]
        if got_initial != [ECHO_INITIAL_VALUE]:
            raise Failure(f"{what}: initial metadata {ECHO_INITIAL_KEY} = {got_initial!r}")
        got_trailing = [v for k, v in trailing if k == ECHO_TRAILING_KEY]
        if got_trailing != [ECHO_TRAILING_VALUE]:
            raise Failure(f"{what}: trailing metadata {ECHO_TRAILING_KEY} = {got_trailing!r}")

    def custom_metadata(self):
        metadata = ((ECHO_INITIAL_KEY, ECHO_INITIAL_VALUE), (ECHO_TRAILING_KEY, ECHO_TRAILING_VALUE))
        response, call = self.stub.UnaryCall.with_call(
            messages_pb2.SimpleRequest(response_size=314159, payload=zeros(271828)),
            metadata=metadata, timeout=RPC_TIMEOUT)
        check_body("UnaryCall response", response.payload, 314159)
        self._check_echo("UnaryCall", call.initial_metadata(), call.trailing_metadata())

        request = messages_pb2.StreamingOutputCallRequest(
            response_parameters=[messages_pb2.ResponseParameters(size=314159)], payload=zeros(271828))
        call = self.stub.FullDuplexCall(iter([request]), metadata=metadata, timeout=RPC_TIMEOUT)
        self._check_responses(call, (314159,))
        self._check_echo("FullDuplexCall", call.initial_metadata(), call.trailing_metadata())

    @staticmethod
    def _check_status(what, error, message):
        want_code(what, error, grpc.StatusCode.UNKNOWN)
        if error.details() != message:
            raise Failure(f"{what}: status message {error.details()!r}, want {message!r}")

    def status_code_and_message(self):
        message = "test status message"
        status = messages_pb2.EchoStatus(code=2, message=message)
        error = call_error(self.stub.UnaryCall, messages_pb2.SimpleRequest(response_status=status),
                           timeout=RPC_TIMEOUT)
        self._check_status("UnaryCall", error, message)
        call = self.stub.FullDuplexCall(
            iter([messages_pb2.StreamingOutputCallRequest(response_status=status)]), timeout=RPC_TIMEOUT)
        error = call_error(list, call)
        self._check_status("FullDuplexCall", error, message)

    def special_status_message(self):
        message = "\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \U0001f608\t\n"
        error = call_error(self.stub.UnaryCall, messages_pb2.SimpleRequest(
            response_status=messages_pb2.EchoStatus(code=2, message=message)), timeout=RPC_TIMEOUT)
        self._check_status("UnaryCall", error, message)

    def unimplemented_method(self):
        error = call_error(self.stub.UnimplementedCall, empty_pb2.Empty(), timeout=RPC_TIMEOUT)
        want_code("TestService/UnimplementedCall", error, grpc.StatusCode.UNIMPLEMENTED)

    def unimplemented_service(self):
        stub = test_pb2_grpc.UnimplementedServiceStub(self.channel)
        error = call_error(stub.UnimplementedCall, empty_pb2.Empty(), timeout=RPC_TIMEOUT)
        want_code("UnimplementedService/UnimplementedCall", error, grpc.StatusCode.UNIMPLEMENTED)

    def _soak(self, new_channel):
        a = self.args
        deadline = time.monotonic() + a.soak_overall_timeout_seconds
        max_latency = a.soak_per_iteration_max_acceptable_latency_ms / 1000
        failures, last = 0, ""
        for i in range(a.soak_iterations):
            if time.monotonic() > deadline:
                raise Failure(f"soak: overall timeout after {i} of {a.soak_iterations} iterations")
            start = time.monotonic()
            channel = self.new_channel() if new_channel else self.channel
            try:
                response = test_pb2_grpc.TestServiceStub(channel).UnaryCall(messages_pb2.SimpleRequest(
                    response_size=a.soak_response_size, payload=zeros(a.soak_request_size)), timeout=RPC_TIMEOUT)
                latency = time.monotonic() - start
                if len(response.payload.body) != a.soak_response_size:
                    failures, last = failures + 1, f"iteration {i}: body {len(response.payload.body)} bytes"
                elif latency > max_latency:
                    failures, last = failures + 1, f"iteration {i}: latency {latency:.3f}s > {max_latency}s"
            except grpc.RpcError as error:
                failures, last = failures + 1, f"iteration {i}: {error.code().name} {error.details()!r}"
            finally:
                if new_channel:
                    channel.close()
            wait = a.soak_min_time_ms_between_rpcs / 1000 - (time.monotonic() - start)
            if wait > 0:
                time.sleep(wait)
        if failures > a.soak_max_failures:
            raise Failure(f"soak: {failures} of {a.soak_iterations} iterations failed "
                          f"(max {a.soak_max_failures}); last: {last}")

    def rpc_soak(self):
        self._soak(False)

    def channel_soak(self):
        self._soak(True)


CASES = [
    "empty_unary", "large_unary", "client_compressed_unary", "server_compressed_unary",
    "client_streaming", "client_compressed_streaming", "server_streaming",
    "server_compressed_streaming", "ping_pong", "empty_stream", "cancel_after_begin",
    "cancel_after_first_response", "timeout_on_sleeping_server", "custom_metadata",
    "status_code_and_message", "special_status_message", "unimplemented_method",
    "unimplemented_service", "rpc_soak", "channel_soak", "very_large_request",
]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server_host", default="127.0.0.1")
    p.add_argument("--server_host_override", default="")
    p.add_argument("--server_port", type=int, default=10000)
    p.add_argument("--test_case", default="large_unary")
    p.add_argument("--use_tls", type=parse_bool, default=False)
    p.add_argument("--use_test_ca", type=parse_bool, default=False)
    p.add_argument("--soak_iterations", type=int, default=10)
    p.add_argument("--soak_max_failures", type=int, default=0)
    p.add_argument("--soak_per_iteration_max_acceptable_latency_ms", type=int, default=1000)
    p.add_argument("--soak_overall_timeout_seconds", type=int, default=60)
    p.add_argument("--soak_min_time_ms_between_rpcs", type=int, default=0)
    p.add_argument("--soak_request_size", type=int, default=271828)
    p.add_argument("--soak_response_size", type=int, default=314159)
    # Accepted for compatibility with the official runners; cloud cases are not implemented.
    for unused in ("--default_service_account", "--oauth_scope", "--service_account_key_file",
                   "--service_config_json"):
        p.add_argument(unused, default="")
    args = p.parse_args()

    if args.test_case not in CASES:
        print(f"n/a: test case {args.test_case!r} is not implemented by the grpcio peer client")
        sys.exit(3)
    client = Client(args)
    try:
        getattr(client, args.test_case)()
    except NotApplicable as e:
        print(f"n/a: {e}")
        sys.exit(3)
    except Failure as e:
        print(f"{args.test_case}: FAILED: {e}", file=sys.stderr)
        sys.exit(1)
    except grpc.RpcError as e:
        print(f"{args.test_case}: FAILED: unexpected status {e.code().name}: {e.details()!r}", file=sys.stderr)
        sys.exit(1)
    finally:
        client.channel.close()
    print(f"{args.test_case}: passed")


if __name__ == "__main__":
    main()
