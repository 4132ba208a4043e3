// A tiny static file server for the page (index.html and dist/), on its own origin, so the
// page's gRPC-Web calls to user-server are cross-origin (CORS preflight included).
// Usage: node serve.mjs PORT
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL(".", import.meta.url));
const types = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8" };
const allowed = new Set(["/index.html", "/dist/main.js"]);

export function serve(port) {
  const server = createServer(async (req, res) => {
    const path = normalize(new URL(req.url, "http://x").pathname.replace(/^\/$/, "/index.html"));
    if (!allowed.has(path)) {
      res.writeHead(404).end("not found");
      return;
    }
    try {
      const body = await readFile(join(root, path));
      res.writeHead(200, { "content-type": types[extname(path)] ?? "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404).end("not found");
    }
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const port = Number(process.argv[2] ?? 8080);
  await serve(port);
  console.log(`page on http://127.0.0.1:${port}/`);
}
