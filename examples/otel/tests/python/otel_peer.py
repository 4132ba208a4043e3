"""A grpcio peer instrumented with OpenTelemetry (opentelemetry-sdk and
opentelemetry-instrumentation-grpc) for examples/otel/tests/python_peer.rs.

`client ADDR`: calls /demo.Greeter/SayHello on rill, prints its own exported client span's
ids and what rill's handler saw, one `key=value` a line.
`server`: serves /demo.Greeter/SayHello, prints `port=N`, answers with the ids of its own
server span (`trace/span/parent`, as the Rust demo does), stops when stdin closes."""
import sys
from concurrent import futures

import grpc
from opentelemetry import trace
from opentelemetry.instrumentation.grpc import GrpcInstrumentorClient, GrpcInstrumentorServer
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def encode(fields):
    """`Hello`: string fields 1 (name), 2 (context), 3 (traceparent)."""
    out = b""
    for number, text in fields.items():
        data = text.encode()
        out += varint(number << 3 | 2) + varint(len(data)) + data
    return out


def decode(buf):
    fields, i = {}, 0
    while i < len(buf):
        key, shift = 0, 0
        while True:
            byte = buf[i]
            i += 1
            key |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        length, shift = 0, 0
        while True:
            byte = buf[i]
            i += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        fields[key >> 3] = buf[i : i + length].decode()
        i += length
    return fields


def client(exporter, addr):
    GrpcInstrumentorClient().instrument()
    with grpc.insecure_channel(addr) as channel:
        reply = channel.unary_unary("/demo.Greeter/SayHello")(encode({1: "python"}), timeout=10)
    fields = decode(reply)
    spans = [s for s in exporter.get_finished_spans() if s.kind == trace.SpanKind.CLIENT]
    ctx = spans[0].get_span_context()
    print("trace_id=%032x" % ctx.trace_id)
    print("span_id=%016x" % ctx.span_id)
    print("reply=" + fields.get(1, ""))
    print("traceparent=" + fields.get(3, ""))


def say_hello(request, context):
    span = trace.get_current_span()
    ctx = span.get_span_context()
    parent = "%016x" % span.parent.span_id if span.parent else ""
    received = dict(context.invocation_metadata()).get("traceparent", "")
    name = decode(request).get(1, "")
    return encode({1: "hello, " + name, 2: "%032x/%016x/%s" % (ctx.trace_id, ctx.span_id, parent), 3: received})


def server():
    GrpcInstrumentorServer().instrument()
    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    handler = grpc.method_handlers_generic_handler(
        "demo.Greeter", {"SayHello": grpc.unary_unary_rpc_method_handler(say_hello)}
    )
    srv.add_generic_rpc_handlers((handler,))
    port = srv.add_insecure_port("127.0.0.1:0")
    srv.start()
    print("port=%d" % port, flush=True)
    sys.stdin.read()
    srv.stop(0)


def main():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    if sys.argv[1] == "client":
        client(exporter, sys.argv[2])
    else:
        server()


if __name__ == "__main__":
    main()
