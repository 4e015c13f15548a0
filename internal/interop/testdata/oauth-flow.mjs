// The whole OAuth flow of the official TypeScript SDK's client, from no
// credentials at all, for end-to-end tests (examples/starter).
//
//   node oauth-flow.mjs <json-spec>
//
// spec: {
//   "url": "http://localhost:PORT/mcp",
//   "browser": "http://127.0.0.1:PORT/",        // the test playing the person at the browser
//   "redirectUrl": "http://127.0.0.1:1/callback", // the client's redirect URI (default shown)
//   "grantTypes": ["authorization_code", "refresh_token"], // registered (default shown)
//   "steps": [ {"op":"call","name":"whoami","args":{}}, {"op":"list"}, {"op":"ping"} ]
// }
//
// Unlike ts-client.mjs, the client starts with nothing: no token and no
// client_id. Connecting gets the server's 401; the SDK reads the challenge,
// discovers the protected-resource and authorization server metadata,
// registers a client (RFC 7591) and sends the user to the authorization
// endpoint (PKCE S256, RFC 8707 resource). The provider POSTs that URL to
// "browser" (text/plain), which answers, as text, the URL the authorization
// server redirected the browser to; with a code there, the driver finishes
// the authorization (the SDK exchanges the code for a token) and connects
// again. A step refused with 403 insufficient_scope goes the same way (the
// SDK re-authorizes for the challenge's scope), then is retried once.
// (SDK 1.x holding a refresh token refreshes it instead, which cannot add
// a scope, and gives up: typescript-sdk#2255. A client registered without
// the refresh_token grant gets none and re-authorizes.)
//
// The provider keeps what the SDK gives it, including the discovery state,
// as a client whose storage survives the browser round trip does; so the
// SDK discovers once and reuses the metadata afterwards.
//
// Output: one JSON line for "connect", then one per step:
//   {"op":..., "ok":true, "result":..., "reauthorized":bool, "clientId":..., "http":[...]}
//   {"op":..., "ok":false, "error":..., "http":[...]}
// "http" lists, in order, the HTTP exchanges the SDK made for the line
// (method, url, status, WWW-Authenticate; never a request header or a
// body, so never a token or a code verifier), with each visit of the
// browser among them as {"method":"BROWSER", "url": <authorization URL>,
// "status": <the browser's answer>}. "clientId" is the registered client's
// id (a public client: there is no secret).
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const spec = JSON.parse(process.argv[2]);
const redirectUrl = spec.redirectUrl ?? "http://127.0.0.1:1/callback";

let callback = null; // where the browser ended up, this line
let exchanges = []; // HTTP exchanges of this line

// The provider's storage: what the SDK saves, it reads back unchanged.
const store = { client: undefined, tokens: undefined, verifier: undefined, discovery: undefined };

const provider = {
  get redirectUrl() { return redirectUrl; },
  get clientMetadata() {
    return {
      client_name: "idgate e2e (TypeScript SDK)",
      redirect_uris: [redirectUrl],
      grant_types: spec.grantTypes ?? ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  },
  clientInformation() { return store.client; },
  saveClientInformation(info) { store.client = info; },
  tokens() { return store.tokens; },
  saveTokens(tokens) { store.tokens = tokens; },
  saveCodeVerifier(v) { store.verifier = v; },
  codeVerifier() {
    if (!store.verifier) throw new Error("no code verifier saved");
    return store.verifier;
  },
  discoveryState() { return store.discovery; },
  saveDiscoveryState(state) { store.discovery = state; },
  async redirectToAuthorization(url) {
    const r = await fetch(spec.browser, { method: "POST", headers: { "content-type": "text/plain" }, body: url.toString() });
    exchanges.push({ method: "BROWSER", url: url.toString(), status: r.status, wwwAuthenticate: null });
    if (!r.ok) throw new Error(`browser answered ${r.status}: ${await r.text()}`);
    callback = new URL(await r.text());
  },
};

// recordingFetch logs each exchange: enough to see challenges, discovery,
// registration and the token exchange, nothing that carries a credential.
async function recordingFetch(input, init) {
  const method = init?.method ?? (input instanceof Request ? input.method : "GET");
  const url = input instanceof Request ? input.url : String(input);
  const res = await fetch(input, init);
  exchanges.push({ method, url, status: res.status, wwwAuthenticate: res.headers.get("www-authenticate") });
  return res;
}

let transport;
let client;

// connect connects a new client over a new transport: a transport that
// failed to connect cannot be started again.
async function connect() {
  transport = new StreamableHTTPClientTransport(new URL(spec.url), { authProvider: provider, fetch: recordingFetch });
  client = new Client({ name: "idgate-e2e-ts", version: "1.0.0" });
  await client.connect(transport);
}

async function run(step) {
  switch (step.op) {
    case "connect": await connect(); return { server: client.getServerVersion() };
    case "list": return client.listTools();
    case "call": return client.callTool({ name: step.name, arguments: step.args ?? {} });
    case "ping": await client.ping(); return {};
    default: throw new Error(`unknown op ${step.op}`);
  }
}

function out(obj) {
  process.stdout.write(JSON.stringify({ ...obj, clientId: store.client?.client_id ?? null, http: exchanges }) + "\n");
}

// attempt runs step; when the SDK sent the user to sign in and the browser
// came back with a code, it finishes the authorization and retries once.
// It returns whether the line succeeded.
async function attempt(step) {
  callback = null;
  exchanges = [];
  try {
    out({ op: step.op, ok: true, result: await run(step), reauthorized: false });
    return true;
  } catch (e) {
    const code = callback?.searchParams.get("code");
    if (!code) {
      out({ op: step.op, ok: false, error: String(e?.message ?? e), callbackError: callback?.searchParams.get("error") ?? null });
      return false;
    }
    try {
      await transport.finishAuth(code);
      out({ op: step.op, ok: true, result: await run(step), reauthorized: true });
      return true;
    } catch (e2) {
      out({ op: step.op, ok: false, error: String(e2?.message ?? e2), reauthorized: true });
      return false;
    }
  }
}

if (await attempt({ op: "connect" })) {
  for (const step of spec.steps ?? []) await attempt(step);
}
await client?.close().catch(() => {});
process.exit(0);
