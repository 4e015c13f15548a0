// A real third-party MCP client for idgate's interop tests: the official
// TypeScript SDK's Client over its Streamable HTTP transport.
//
//   node ts-client.mjs <json-spec>
//
// spec: {
//   "url": "http://127.0.0.1:PORT/mcp",
//   "token": "eyJ...",              // bearer token, supplied through an OAuthClientProvider
//   "clientId": "idgate-interop",   // the provider's pre-registered client (default shown)
//   "redirectUrl": "http://127.0.0.1:1/callback", // its redirect URI (default shown)
//   "browser": "http://127.0.0.1:PORT/browser",   // optional, see below
//   "tokenUrl": "http://127.0.0.1:PORT/token", // optional: a fresh token is fetched
//                                   // from it every 100 ms, as a client refreshing early
//   "steps": [ {"op":"list"}, {"op":"call","name":"echo","args":{"message":"hi"}}, {"op":"ping"},
//              {"op":"wait","ms":5000} ]
// }
// "wait" waits, then reports how many notifications/tools/list_changed the
// client has received so far ({"listChanged": n}).
// Each step prints one JSON line: {"op":..., "ok":true, "result":...} or
// {"op":..., "ok":false, "error":..., "status":..., "redirect":...}, both with
// "http": the HTTP exchanges the SDK made for the step (method, url, status,
// WWW-Authenticate; never a request header, so never the token).
//
// When the server answers 403 insufficient_scope, the SDK starts
// re-authorization: it discovers the authorization server and sends the
// user to its authorization endpoint. The provider records that URL (with the
// scope and resource the SDK asks for) as "redirect", which is how the test
// sees the step-up. With "browser" set, the provider also POSTs the URL there
// (text/plain): the test plays the person at the browser and answers, as
// text, the URL the authorization server redirected the browser to. When that
// carries a code, the driver finishes the authorization (the SDK exchanges
// the code, with its PKCE verifier, for a new token) and retries the step
// once; the line then has "reauthorized": true.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";

const spec = JSON.parse(process.argv[2]);
const redirectUrl = spec.redirectUrl ?? "http://127.0.0.1:1/callback";

let redirect = null; // authorization URL the SDK sent the user to, this step
let callback = null; // where the browser ended up, when spec.browser is set
let exchanges = []; // HTTP exchanges of this step

// The provider's storage: what the SDK saves, it reads back unchanged.
const store = {
  tokens: spec.token ? { access_token: spec.token, token_type: "Bearer" } : undefined,
  client: { client_id: spec.clientId ?? "idgate-interop" },
  verifier: undefined,
};

const provider = {
  get redirectUrl() { return redirectUrl; },
  get clientMetadata() {
    return { client_name: "idgate-interop", redirect_uris: [redirectUrl], grant_types: ["authorization_code", "refresh_token"], response_types: ["code"], token_endpoint_auth_method: "none" };
  },
  clientInformation() { return store.client; },
  saveClientInformation(info) { store.client = info; },
  tokens() { return store.tokens; },
  saveTokens(tokens) { store.tokens = tokens; },
  async redirectToAuthorization(url) {
    redirect = url.toString();
    if (!spec.browser) return;
    const r = await fetch(spec.browser, { method: "POST", headers: { "content-type": "text/plain" }, body: redirect });
    if (!r.ok) throw new Error(`browser answered ${r.status}: ${await r.text()}`);
    callback = new URL(await r.text());
  },
  saveCodeVerifier(v) { store.verifier = v; },
  codeVerifier() {
    if (!store.verifier) throw new Error("no code verifier saved");
    return store.verifier;
  },
};

// recordingFetch logs each exchange: enough to see challenges and
// discovery, nothing that carries a credential.
async function recordingFetch(input, init) {
  const method = init?.method ?? (input instanceof Request ? input.method : "GET");
  const url = input instanceof Request ? input.url : String(input);
  const res = await fetch(input, init);
  exchanges.push({ method, url, status: res.status, wwwAuthenticate: res.headers.get("www-authenticate") });
  return res;
}

// A client refreshing its token ahead of expiry: the token source is the
// test's, outside the SDK's own recovery.
async function refresh() {
  const r = await fetch(spec.tokenUrl);
  if (!r.ok) throw new Error(`token endpoint answered ${r.status}`);
  store.tokens = { access_token: await r.text(), token_type: "Bearer" };
}
if (spec.tokenUrl) {
  await refresh();
  setInterval(() => refresh().catch(() => {}), 100);
}

const transport = new StreamableHTTPClientTransport(new URL(spec.url), { authProvider: provider, fetch: recordingFetch });
const client = new Client({ name: "idgate-interop-ts", version: "1.0.0" });
let listChanged = 0;
client.setNotificationHandler(ToolListChangedNotificationSchema, () => { listChanged++; });

function out(obj) { process.stdout.write(JSON.stringify({ ...obj, http: exchanges }) + "\n"); }

function failure(op, e, extra = {}) {
  return { op, ok: false, error: String(e?.message ?? e), status: e?.code ?? null, redirect, ...extra };
}

async function run(step) {
  switch (step.op) {
    case "list": return client.listTools();
    case "call": return client.callTool({ name: step.name, arguments: step.args ?? {} });
    case "ping": await client.ping(); return {};
    case "wait": await new Promise((resolve) => setTimeout(resolve, step.ms)); return { listChanged };
    default: throw new Error(`unknown op ${step.op}`);
  }
}

try {
  await client.connect(transport);
  out({ op: "connect", ok: true, server: client.getServerVersion(), protocol: transport.protocolVersion ?? null });
} catch (e) {
  out(failure("connect", e));
  process.exit(0);
}

for (const step of spec.steps ?? []) {
  redirect = null;
  callback = null;
  exchanges = [];
  try {
    out({ op: step.op, ok: true, result: await run(step) });
  } catch (e) {
    const code = callback?.searchParams.get("code");
    if (!code) {
      out(failure(step.op, e, callback ? { callbackError: callback.searchParams.get("error") } : {}));
      continue;
    }
    const first = redirect;
    try {
      await transport.finishAuth(code);
      out({ op: step.op, ok: true, result: await run(step), redirect: first, reauthorized: true });
    } catch (e2) {
      out(failure(step.op, e2, { redirect: first, reauthorized: true }));
    }
  }
}
await client.close().catch(() => {});
process.exit(0);
