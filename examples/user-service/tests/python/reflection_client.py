"""grpcio-reflection's client (it speaks grpc.reflection.v1alpha) and grpcio-health-checking
against a running user-server.

Usage: reflection_client.py HOST:PORT

Lists the services through reflection, loads UserService's descriptors into a DescriptorPool
from the server alone (no .proto file, no generated code), then calls CreateUsers and GetUser
with messages built from those descriptors; checks health too. Prints "ok: ..." at the end.
"""

import sys

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

TIMEOUT = 20  # seconds, for each call

EXPECTED_SERVICES = [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
    "user.UserService",
]


def main(addr):
    with grpc.insecure_channel(addr) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        services = sorted(database.get_services())
        assert services == EXPECTED_SERVICES, services
        print("services:", " ".join(services))

        assert database.FindFileContainingSymbol("user.User").name == "user.proto"
        assert list(database.FindAllExtensionNumbers("user.User")) == []
        try:
            database.FindFileContainingSymbol("user.Nope")
        except KeyError:
            print("user.Nope: not found")
        else:
            raise AssertionError("an unknown symbol was found")

        pool = DescriptorPool(database)
        service = pool.FindServiceByName("user.UserService")
        methods = sorted(m.name for m in service.methods)
        assert methods == ["ChatStream", "CreateUsers", "GetUser", "ListUsers"], methods
        print("methods:", " ".join(methods))

        def method(name):
            m = service.methods_by_name[name]
            request = message_factory.GetMessageClass(m.input_type)
            response = message_factory.GetMessageClass(m.output_type)
            return request, response

        create_request, create_response = method("CreateUsers")
        create = channel.stream_unary(
            "/user.UserService/CreateUsers",
            request_serializer=create_request.SerializeToString,
            response_deserializer=create_response.FromString,
        )
        created = create(
            iter([create_request(name="Ada", email="ada@example.com")]), timeout=TIMEOUT
        )
        (user_id,) = created.ids

        get_request, get_response = method("GetUser")
        get = channel.unary_unary(
            "/user.UserService/GetUser",
            request_serializer=get_request.SerializeToString,
            response_deserializer=get_response.FromString,
        )
        user = get(get_request(id=user_id), timeout=TIMEOUT)
        assert (user.id, user.name, user.email) == (user_id, "Ada", "ada@example.com"), user
        print(f"GetUser({user_id}): {user.name} <{user.email}>")

        health = health_pb2_grpc.HealthStub(channel)
        statuses = []
        for name in ["", "user.UserService"]:
            reply = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=TIMEOUT)
            status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
            assert status == "SERVING", (name, status)
            statuses.append(status)
        print("health:", " ".join(statuses))
    print("ok: reflection and health")


if __name__ == "__main__":
    main(sys.argv[1])
