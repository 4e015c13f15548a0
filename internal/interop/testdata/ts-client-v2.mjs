// A second real third-party MCP client for idgate's interop tests: the
// TypeScript SDK v2 (@modelcontextprotocol/client), which can speak
// protocol 2026-07-28 (SEP-2575: no initialize, no session; a
// server/discover probe, then every request carrying the client's
// version, name and capabilities in _meta and Mcp-Method / Mcp-Name
// headers).
//
//   node ts-client-v2.mjs <json-spec>
//
// spec: {
//   "url": "http://127.0.0.1:PORT/mcp",
//   "token": "eyJ...",            // sent as "Authorization: Bearer ..."
//   "negotiation": "pin",         // "pin" (2026-07-28 only), "auto" (2026-07-28, else 2025), "legacy" (the default)
//   "steps": [ {"op":"list"}, {"op":"call","name":"echo","args":{"message":"hi"}} ]
// }
// Each step prints one JSON line: {"op":..., "ok":true, "result":...} or
// {"op":..., "ok":false, "error":...}, both with "http": the HTTP exchanges
// the SDK made for the step (method, status, and the MCP request headers
// Mcp-Protocol-Version, Mcp-Method and Mcp-Name; never Authorization).
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";

const spec = JSON.parse(process.argv[2]);
let exchanges = [];

async function recordingFetch(input, init) {
  const req = new Request(input, init);
  if (spec.token) req.headers.set("authorization", `Bearer ${spec.token}`);
  const res = await fetch(req);
  exchanges.push({
    method: req.method,
    status: res.status,
    protocolVersion: req.headers.get("mcp-protocol-version"),
    mcpMethod: req.headers.get("mcp-method"),
    mcpName: req.headers.get("mcp-name"),
  });
  return res;
}

const negotiation = {
  pin: { mode: { pin: "2026-07-28" } },
  auto: { mode: "auto" },
  legacy: { mode: "legacy" },
}[spec.negotiation ?? "legacy"];

const transport = new StreamableHTTPClientTransport(new URL(spec.url), { fetch: recordingFetch });
const client = new Client({ name: "idgate-interop-ts-v2", version: "2.0.0" }, { versionNegotiation: negotiation });

function out(obj) { process.stdout.write(JSON.stringify({ ...obj, http: exchanges }) + "\n"); }

async function run(step) {
  switch (step.op) {
    case "list": return client.listTools();
    case "call": return client.callTool({ name: step.name, arguments: step.args ?? {} });
    default: throw new Error(`unknown op ${step.op}`);
  }
}

try {
  await client.connect(transport);
  out({ op: "connect", ok: true, server: client.getServerVersion(), protocol: client.getNegotiatedProtocolVersion() ?? null });
} catch (e) {
  out({ op: "connect", ok: false, error: String(e?.message ?? e) });
  process.exit(0);
}
for (const step of spec.steps ?? []) {
  exchanges = [];
  try {
    out({ op: step.op, ok: true, result: await run(step) });
  } catch (e) {
    out({ op: step.op, ok: false, error: String(e?.message ?? e) });
  }
}
await client.close().catch(() => {});
process.exit(0);
