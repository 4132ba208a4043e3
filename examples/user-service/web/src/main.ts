// The UserService demo in a browser: gRPC-Web calls with connect-web's gRPC-Web transport
// (binary, fetch), then with Google's grpc-web library (text mode, XHR).
// The server address comes from `?server=URL` (default: this page's origin), so the page can
// be served from another origin and exercise CORS.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { UserService } from "./gen/user_pb";
import { textModeCalls } from "./text";

const params = new URLSearchParams(location.search);
const server = params.get("server") ?? location.origin;
const client = createClient(UserService, createGrpcWebTransport({ baseUrl: server }));

function show(id: string, text: string): void {
  const el = document.getElementById(id);
  if (el) el.textContent = text;
}

async function main(): Promise<void> {
  // Unary.
  const user = await client.getUser({ id: 1 });
  show("get-user", `GetUser(1): #${user.id} ${user.name} <${user.email}>`);

  // Server streaming: every user, as each message arrives.
  const lines: string[] = [];
  for await (const u of client.listUsers({ pageSize: 100 })) {
    lines.push(`#${u.id} ${u.name} <${u.email}>`);
    show("list-users", `ListUsers: ${lines.join(", ")}`);
  }

  // An error travels as a gRPC status (code and message) to the page.
  try {
    await client.getUser({ id: 999999 });
    show("not-found", "GetUser(999999): unexpectedly found");
  } catch (err) {
    const e = ConnectError.from(err);
    show("not-found", `GetUser(999999): ${Code[e.code]}: ${e.rawMessage}`);
  }

  // The same with Google's grpc-web library in text mode.
  await textModeCalls(server, show);
  show("status", "done");
}

main().catch((err) => show("status", `failed: ${String(err)}`));
