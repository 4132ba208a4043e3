// The same calls with Google's `grpc-web` library in its text mode
// (application/grpc-web-text over XHR, base64 both ways). Its runtime takes (de)serializers
// per method; protobuf-es's generated schemas provide them (no protoc-gen-grpc-web needed).
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { GrpcWebClientBase, MethodDescriptor, RpcError, StatusCode } from "grpc-web";
import {
  GetUserRequestSchema,
  ListUsersRequestSchema,
  UserSchema,
  type GetUserRequest,
  type ListUsersRequest,
  type User,
} from "./gen/user_pb";

// The runtime only calls the serializers; these constructors are never used.
class Unused {}

const getUser = new MethodDescriptor<GetUserRequest, User>(
  "/user.UserService/GetUser",
  "unary",
  Unused as never,
  Unused as never,
  (req: GetUserRequest) => toBinary(GetUserRequestSchema, req),
  (bytes: Uint8Array) => fromBinary(UserSchema, bytes),
);
const listUsers = new MethodDescriptor<ListUsersRequest, User>(
  "/user.UserService/ListUsers",
  "server_streaming",
  Unused as never,
  Unused as never,
  (req: ListUsersRequest) => toBinary(ListUsersRequestSchema, req),
  (bytes: Uint8Array) => fromBinary(UserSchema, bytes),
);

export async function textModeCalls(server: string, show: (id: string, text: string) => void) {
  const client = new GrpcWebClientBase({ format: "text" });
  const req = (id: number) => ({ $typeName: "user.GetUserRequest", id }) as GetUserRequest;

  const user = await client.thenableCall(`${server}/user.UserService/GetUser`, req(1), {}, getUser);
  show("text-get-user", `GetUser(1): #${user.id} ${user.name} <${user.email}>`);

  const lines: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const request = { $typeName: "user.ListUsersRequest", pageSize: 100, pageToken: "" } as ListUsersRequest;
    client
      .serverStreaming(`${server}/user.UserService/ListUsers`, request, {}, listUsers)
      .on("data", (u: User) => {
        lines.push(`#${u.id} ${u.name} <${u.email}>`);
        show("text-list-users", `ListUsers: ${lines.join(", ")}`);
      })
      .on("error", (e: RpcError) => reject(e))
      .on("end", () => resolve());
  });

  try {
    await client.thenableCall(`${server}/user.UserService/GetUser`, req(999999), {}, getUser);
    show("text-not-found", "GetUser(999999): unexpectedly found");
  } catch (err) {
    const e = err as RpcError;
    // StatusCode is a plain name → number object at runtime (no reverse mapping).
    const name = e.code === StatusCode.NOT_FOUND ? "NOT_FOUND" : `code ${e.code}`;
    show("text-not-found", `GetUser(999999): ${name}: ${e.message}`);
  }
}
