// A real third-party MCP client for idgate's interop tests: the official
// TypeScript SDK's Client over its Streamable HTTP transport.
//
//   node ts-client.mjs <json-spec>
//
// spec: {
//   "url": "http://127.0.0.1:PORT/mcp",
//   "token": "eyJ...",              // bearer token, supplied through an OAuthClientProvider
//   "steps": [ {"op":"list"}, {"op":"call","name":"echo","args":{"message":"hi"}} ]
// }
// Each step prints one JSON line: {"op":..., "ok":true, "result":...} or
// {"op":..., "ok":false, "error":..., "status":..., "redirect":...}. When the
// server answers 403 insufficient_scope, the SDK starts re-authorization; the
// provider records the authorization URL it was sent to (with the scope the
// SDK asks for) as "redirect", which is how the test sees the step-up.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const spec = JSON.parse(process.argv[2]);
let redirect = null;

const provider = {
  get redirectUrl() { return "http://127.0.0.1:1/callback"; },
  get clientMetadata() {
    return { client_name: "idgate-interop", redirect_uris: ["http://127.0.0.1:1/callback"], grant_types: ["authorization_code"], response_types: ["code"], token_endpoint_auth_method: "none" };
  },
  clientInformation() { return { client_id: "idgate-interop" }; },
  saveClientInformation() {},
  tokens() { return spec.token ? { access_token: spec.token, token_type: "Bearer" } : undefined; },
  saveTokens() {},
  redirectToAuthorization(url) { redirect = url.toString(); },
  saveCodeVerifier() {},
  codeVerifier() { return "verifier"; },
};

const transport = new StreamableHTTPClientTransport(new URL(spec.url), { authProvider: provider });
const client = new Client({ name: "idgate-interop-ts", version: "1.0.0" });

function out(obj) { process.stdout.write(JSON.stringify(obj) + "\n"); }

try {
  await client.connect(transport);
  out({ op: "connect", ok: true, server: client.getServerVersion(), protocol: transport.protocolVersion ?? null });
} catch (e) {
  out({ op: "connect", ok: false, error: String(e?.message ?? e), status: e?.code ?? null, redirect });
  process.exit(0);
}

for (const step of spec.steps ?? []) {
  redirect = null;
  try {
    if (step.op === "list") {
      const r = await client.listTools();
      out({ op: "list", ok: true, result: r });
    } else if (step.op === "call") {
      const r = await client.callTool({ name: step.name, arguments: step.args ?? {} });
      out({ op: "call", ok: true, result: r });
    } else if (step.op === "ping") {
      await client.ping();
      out({ op: "ping", ok: true });
    } else {
      out({ op: step.op, ok: false, error: "unknown op" });
    }
  } catch (e) {
    out({ op: step.op, ok: false, error: String(e?.message ?? e), status: e?.code ?? null, redirect });
  }
}
await client.close().catch(() => {});
process.exit(0);
