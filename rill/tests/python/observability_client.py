"""A grpcio client for rill/tests/observability.rs: calls /obs.Probe/Info with a W3C
`traceparent` (and no x-request-id), then prints what came back, one `key=value` a line."""
import sys

import grpc

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def string_field_1(buf):
    """Field 1 (a string) of an encoded protobuf message, or ""."""
    if buf[:1] != b"\x0a":
        return ""
    length, shift, i = 0, 0, 1
    while True:
        byte = buf[i]
        length |= (byte & 0x7F) << shift
        shift += 7
        i += 1
        if byte < 0x80:
            break
    return buf[i : i + length].decode()


def main():
    addr = sys.argv[1]
    with grpc.insecure_channel(addr) as channel:
        # No serializers: request and response are raw protobuf bytes. The request is an
        # empty message; the response is `string text = 1`.
        info = channel.unary_unary("/obs.Probe/Info")
        reply, call = info.with_call(
            b"", metadata=[("traceparent", TRACEPARENT), ("tracestate", "py=1")], timeout=10
        )
        text = string_field_1(reply)
        headers = dict(call.initial_metadata())
        print("request_id=" + headers.get("x-request-id", ""))
        print("handler=" + text)
        print("ok: " + call.code().name)


if __name__ == "__main__":
    main()
