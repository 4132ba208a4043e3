"""A third-party client for the UserService demo: Python grpcio against a running user-server.

Usage: python user_client.py HOST:PORT

Generates the stubs from proto/user.proto with grpc_tools.protoc into a temporary directory,
then calls all four methods and checks the answers: status codes, the BadRequest detail
(google.rpc.Status in the grpc-status-details-bin trailer), the x-next-page-token trailer and
the chat broadcast. Exits non-zero on the first failed check.

Needs grpcio, grpcio-tools and grpcio-status (scripts/test installs them).
"""

import queue
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc

try:
    from google.rpc import error_details_pb2, status_pb2
    from grpc_status import rpc_status
except ImportError as e:
    sys.exit(f"user_client.py: {e}: install grpcio-status (scripts/test does)")

# The crate directory (holds proto/).
CRATE = Path(__file__).resolve().parents[2]
# Deadline of every call: generous (a busy machine), but bounded.
TIMEOUT = 30.0
NEXT_PAGE_TOKEN = "x-next-page-token"

checks = 0


def check(condition, what):
    global checks
    if not condition:
        raise AssertionError(what)
    checks += 1


def check_eq(got, expected, what):
    check(got == expected, f"{what}: got {got!r}, expected {expected!r}")


def generate_stubs(out_dir):
    """python -m grpc_tools.protoc -I proto --python_out=DIR --grpc_python_out=DIR proto/user.proto"""
    command = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        "-I",
        "proto",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        "proto/user.proto",
    ]
    result = subprocess.run(command, cwd=CRATE, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        sys.exit(f"user_client.py: protoc failed ({result.returncode}):\n{result.stderr}")
    sys.path.insert(0, str(out_dir))


def expect_error(call, code, what):
    """Runs call(); it must fail with `code`. Returns the grpc.RpcError."""
    try:
        result = call()
    except grpc.RpcError as e:
        check_eq(e.code(), code, f"{what}: status code ({e.details()!r})")
        return e
    raise AssertionError(f"{what}: expected {code}, got success: {result!r}")


def bad_request_violations(error, what):
    """The field violations of the BadRequest detail of a failed call."""
    status = rpc_status.from_call(error)  # also checks code and message against grpc-status
    check(status is not None, f"{what}: no grpc-status-details-bin trailer")
    check_eq(status.code, error.code().value[0], f"{what}: google.rpc.Status code")
    check_eq(status.message, error.details(), f"{what}: google.rpc.Status message")
    # The raw trailer decodes to the same google.rpc.Status.
    raw = dict(error.trailing_metadata() or ()).get("grpc-status-details-bin")
    check(isinstance(raw, bytes), f"{what}: grpc-status-details-bin is binary metadata")
    check_eq(status_pb2.Status.FromString(raw), status, f"{what}: raw trailer")
    violations = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            violations.extend((v.field, v.description) for v in bad_request.field_violations)
    return violations


def create_users(stub, pb, users):
    requests = (pb.CreateUserRequest(name=name, email=email) for name, email in users)
    return stub.CreateUsers(requests, timeout=TIMEOUT)


def list_page(stub, pb, page_size, page_token=""):
    """One ListUsers call: (users, next page token or None)."""
    call = stub.ListUsers(
        pb.ListUsersRequest(page_size=page_size, page_token=page_token), timeout=TIMEOUT
    )
    users = list(call)
    check_eq(call.code(), grpc.StatusCode.OK, "ListUsers status")
    trailers = dict(call.trailing_metadata() or ())
    return users, trailers.get(NEXT_PAGE_TOKEN)


def list_all_ids(stub, pb):
    users, token = list_page(stub, pb, 1000)
    check(token is None, "one page holds every user")
    return [u.id for u in users]


class Chatter:
    """A ChatStream call fed from a queue; None in the queue half-closes it."""

    def __init__(self, stub, name):
        self.name = name
        self.outbound = queue.Queue()
        self.call = stub.ChatStream(
            iter(self.outbound.get, None), timeout=TIMEOUT, metadata=[("x-chat-user", name)]
        )
        # Returns once the server has answered: from then on this call gets every broadcast.
        self.call.initial_metadata()

    def say(self, pb, text):
        self.outbound.put(pb.ChatMessage(user=self.name, text=text, sent_at=42))

    def expect(self, user, text, since):
        """The next message must be `text` from `user`, sent (by the server) at `since` or later."""
        message = next(self.call)
        now = millis()
        check_eq((message.user, message.text), (user, text), f"{self.name} receives")
        check(since <= message.sent_at <= now, f"sent_at {message.sent_at} in [{since}, {now}]")
        return message

    def half_close_and_finish(self):
        self.outbound.put(None)
        rest = list(self.call)
        check_eq(rest, [], f"{self.name}: nothing after the half-close")
        check_eq(self.call.code(), grpc.StatusCode.OK, f"{self.name}: chat status")


def millis():
    return int(time.time() * 1000)


def run(target, pb, pb_grpc):
    # No proxy for 127.0.0.1, whatever the environment says.
    options = [("grpc.enable_http_proxy", 0)]
    with grpc.insecure_channel(target, options=options) as channel:
        grpc.channel_ready_future(channel).result(timeout=TIMEOUT)
        stub = pb_grpc.UserServiceStub(channel)

        # CreateUsers (client streaming): seven users in one call.
        start = int(time.time())
        people = [(f"py{i}", f"py{i}@example.com") for i in range(1, 8)]
        created = create_users(stub, pb, people)
        check_eq(created.created_count, 7, "created_count")
        ids = list(created.ids)
        check_eq(len(ids), 7, "one id per user")
        check_eq(ids, sorted(set(ids)), "ids are distinct and increasing")
        print(f"CreateUsers: created {created.created_count}, ids {ids}")

        # GetUser (unary): found, and NOT_FOUND.
        user = stub.GetUser(pb.GetUserRequest(id=ids[2]), timeout=TIMEOUT)
        check_eq((user.id, user.name, user.email), (ids[2], "py3", "py3@example.com"), "GetUser")
        check(start - 1 <= user.created_at <= time.time() + 1, f"created_at {user.created_at}")
        missing = max(ids) + 1000
        error = expect_error(
            lambda: stub.GetUser(pb.GetUserRequest(id=missing), timeout=TIMEOUT),
            grpc.StatusCode.NOT_FOUND,
            "GetUser(missing)",
        )
        check_eq(error.details(), f"user {missing} not found", "NOT_FOUND message")
        print(f"GetUser: found #{user.id} {user.name}; #{missing}: {error.code().name}")

        # CreateUsers with an invalid user: INVALID_ARGUMENT with a BadRequest field violation.
        invalid = [
            ("bad email", [("ok", "ok@example.com"), ("Bob", "not-an-email")], 1, "email"),
            ("empty name", [("", "nobody@example.com")], 0, "name"),
        ]
        for what, users, index, field in invalid:
            error = expect_error(
                lambda users=users: create_users(stub, pb, users),
                grpc.StatusCode.INVALID_ARGUMENT,
                f"CreateUsers({what})",
            )
            check_eq(error.details(), f"user #{index} is invalid", f"{what}: message")
            violations = bad_request_violations(error, what)
            check_eq(len(violations), 1, f"{what}: one field violation")
            check_eq(violations[0][0], field, f"{what}: violated field")
            print(f"CreateUsers({what}): {error.code().name}: {violations[0][0]} ({violations[0][1]})")
        # Nothing of the failed calls was created.
        check_eq(list_all_ids(stub, pb), ids, "users after the failed calls")

        # ListUsers (server streaming): pages of 3, chained by the x-next-page-token trailer.
        pages, tokens, token = [], [], ""
        while True:
            users, next_token = list_page(stub, pb, 3, token)
            pages.append([u.id for u in users])
            if next_token is None:
                break
            tokens.append(next_token)
            token = next_token
        check_eq(pages, [ids[0:3], ids[3:6], ids[6:7]], "pages")
        check_eq(tokens, [str(ids[2]), str(ids[5])], "page tokens")
        print(f"ListUsers: pages {pages}, tokens {tokens}")
        for what, size, token in [("bad page_token", 3, "abc"), ("negative page_size", -1, "")]:
            expect_error(
                lambda size=size, token=token: list_page(stub, pb, size, token),
                grpc.StatusCode.INVALID_ARGUMENT,
                f"ListUsers({what})",
            )
        print("ListUsers: bad page_token and negative page_size: INVALID_ARGUMENT")

        # ChatStream (bidirectional): two participants, each message reaches both.
        alice, bob = Chatter(stub, "alice"), Chatter(stub, "bob")
        before = millis()
        alice.say(pb, "hello from python")
        to_alice = alice.expect("alice", "hello from python", before)
        to_bob = bob.expect("alice", "hello from python", before)
        check_eq(to_bob, to_alice, "the same broadcast for both")
        bob.say(pb, "hi alice")
        for chatter in (alice, bob):
            chatter.expect("bob", "hi alice", before)
        alice.half_close_and_finish()
        bob.say(pb, "alone now")
        bob.expect("bob", "alone now", before)
        bob.half_close_and_finish()
        print(f"ChatStream: [{to_alice.sent_at}] {to_alice.user}: {to_alice.text}")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    target = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="user-stubs-") as stubs:
        generate_stubs(stubs)
        import user_pb2
        import user_pb2_grpc

        run(target, user_pb2, user_pb2_grpc)
    print(f"ok: {checks} checks passed")


if __name__ == "__main__":
    main()
