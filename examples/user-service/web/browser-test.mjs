// Opens the page in headless Debian Chromium (playwright-core, no browser download) and checks
// that the gRPC-Web calls to user-server show their results; saves a screenshot.
// Usage: node browser-test.mjs SERVER_URL SCREENSHOT.png [PROTOCOL]
// PROTOCOL (default http/1.1) is what the gRPC-Web calls must have gone over, as Chromium's
// DevTools protocol reports it: `http/1.1` for a plaintext server, `h2` for a TLS one.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "./serve.mjs";

const [serverUrl, screenshot, protocol = "http/1.1"] = process.argv.slice(2);
if (!serverUrl || !screenshot) {
  console.error("usage: node browser-test.mjs SERVER_URL SCREENSHOT.png");
  process.exit(2);
}

const page_server = await serve(0);
const pageUrl = `http://127.0.0.1:${page_server.address().port}/?server=${encodeURIComponent(serverUrl)}`;
const profile = mkdtempSync(join(tmpdir(), "rill-chromium-"));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    // The TLS run uses a throwaway self-signed certificate.
    ...(serverUrl.startsWith("https:") ? ["--ignore-certificate-errors"] : []),
  ],
});

const failures = [];
const check = (what, actual, expected) => {
  if (actual !== expected) failures.push(`${what}: got ${JSON.stringify(actual)}, want ${JSON.stringify(expected)}`);
};

try {
  const page = browser.pages()[0] ?? (await browser.newPage());
  const requests = [];
  const contentTypes = new Set();
  page.on("request", (r) => {
    requests.push(`${r.method()} ${r.url()}`);
    const ct = r.headers()["content-type"];
    if (ct?.startsWith("application/grpc-web")) contentTypes.add(ct);
  });
  page.on("console", (m) => console.log(`[page] ${m.text()}`));
  // The HTTP version of every gRPC-Web response, from Chromium itself.
  const protocols = new Set();
  const cdp = await browser.newCDPSession(page);
  await cdp.send("Network.enable");
  cdp.on("Network.responseReceived", (e) => {
    if (e.response.url.startsWith(`${serverUrl}/user.UserService/`)) protocols.add(e.response.protocol);
  });
  await page.goto(pageUrl);
  await page.waitForFunction(() => document.getElementById("status")?.textContent !== "running", null, {
    timeout: 20000,
  });
  const text = async (id) => (await page.textContent(`#${id}`))?.trim();
  check("status", await text("status"), "done");
  check("GetUser", await text("get-user"), "GetUser(1): #1 Ada <ada@example.com>");
  check(
    "ListUsers",
    await text("list-users"),
    "ListUsers: #1 Ada <ada@example.com>, #2 Grace <grace@example.com>, #3 Linus <linus@example.com>",
  );
  check("error", await text("not-found"), "GetUser(999999): NotFound: user 999999 not found");
  // Google's grpc-web in text mode: the same results.
  check("text GetUser", await text("text-get-user"), "GetUser(1): #1 Ada <ada@example.com>");
  check(
    "text ListUsers",
    await text("text-list-users"),
    "ListUsers: #1 Ada <ada@example.com>, #2 Grace <grace@example.com>, #3 Linus <linus@example.com>",
  );
  check("text error", await text("text-not-found"), "GetUser(999999): NOT_FOUND: user 999999 not found");
  // The calls really went cross-origin to the server, as gRPC-Web POSTs.
  const calls = requests.filter((r) => r.startsWith(`POST ${serverUrl}/user.UserService/`));
  check("gRPC-Web POSTs seen", calls.length, 6);
  // Both wire formats were used.
  check("content types", [...contentTypes].sort().join(" "), "application/grpc-web+proto application/grpc-web-text");
  check("HTTP version", [...protocols].join(" "), protocol);
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`screenshot: ${screenshot}`);
} catch (err) {
  failures.push(String(err));
} finally {
  await browser.close();
  page_server.close();
  rmSync(profile, { recursive: true, force: true });
}

if (failures.length) {
  console.error(`browser test FAILED:\n  ${failures.join("\n  ")}`);
  process.exit(1);
}
console.log(
  `browser test passed (${protocol}): GetUser, ListUsers and a NOT_FOUND status over gRPC-Web, binary (connect-web) and text (grpc-web)`,
);
