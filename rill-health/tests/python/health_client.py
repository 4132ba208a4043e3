"""grpcio-health-checking's client against a rill health service.

Usage: health_client.py HOST:PORT

The Rust test serving the health service has reported "" and "rill.test.Ready" as SERVING.
Each line printed is a step; after "watch rill.test.Later: SERVICE_UNKNOWN" the test
reports rill.test.Later SERVING, then (after that line) NOT_SERVING. Ends with "ok: ...".
"""

import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

TIMEOUT = 20  # seconds, for each call and each watch update

Status = health_pb2.HealthCheckResponse.ServingStatus


def say(line):
    print(line, flush=True)


def check(stub, service):
    reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=TIMEOUT)
    return Status.Name(reply.status)


def main(addr):
    with grpc.insecure_channel(addr) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        assert check(stub, "") == "SERVING", check(stub, "")
        say("check '': SERVING")
        assert check(stub, "rill.test.Ready") == "SERVING"
        say("check rill.test.Ready: SERVING")
        try:
            check(stub, "rill.test.Nope")
        except grpc.RpcError as err:
            assert err.code() == grpc.StatusCode.NOT_FOUND, err
            say("check rill.test.Nope: NOT_FOUND")
        else:
            raise AssertionError("Check of an unknown service succeeded")

        watch = stub.Watch(health_pb2.HealthCheckRequest(service="rill.test.Later"))
        seen = []
        for reply in watch:
            status = Status.Name(reply.status)
            seen.append(status)
            say(f"watch rill.test.Later: {status}")
            if len(seen) == 3:
                break
        watch.cancel()
        assert seen == ["SERVICE_UNKNOWN", "SERVING", "NOT_SERVING"], seen
    say(f"ok: {len(seen)} watch updates")


if __name__ == "__main__":
    main(sys.argv[1])
