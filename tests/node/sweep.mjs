// The official TypeScript MCP SDK sweeping one of our servers as a Node client (and the MCP Inspector, built on
// it) would: tests/mcp_servers/test_typescript_clients.py runs it against each real server on loopback.
//
//   node sweep.mjs < plan.json      plan: {url, token, wrong_scope_token, calls: [{name, arguments}]}
//                                         or {stdio: {command, args, env, cwd}, calls}
//
// Connects with the bearer token, lists tools (the SDK checks every definition with zod and compiles every
// outputSchema with ajv), resources and prompts where the server declares them, then calls each planned tool in
// order: callTool validates structuredContent against the tool's outputSchema and throws on a mismatch. A string
// argument "{{i.field}}" is replaced by field of call i's structuredContent (ids made by an earlier call).
// Ping, the log level where the server takes one, and the session's DELETE, as the Inspector sends them.
// Then the wrong-scope token: the raw HTTP answer, the SDK's error without an auth provider, and whether the SDK
// starts an OAuth flow with one (as the Inspector has). Prints one JSON object.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const plan = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => { text += chunk; });
  process.stdin.on("end", () => resolve(text));
}));
const url = plan.url ? new URL(plan.url) : null;
const bearer = (token) => ({ requestInit: { headers: { Authorization: `Bearer ${token}` } } });

function resolveRefs(value, results) {
  if (typeof value === "string") {
    const ref = /^\{\{(\d+)\.([\w.]+)\}\}$/.exec(value);
    if (!ref) return value;
    return ref[2].split(".").reduce((obj, key) => obj?.[key], results[Number(ref[1])]?.structured);
  }
  if (Array.isArray(value)) return value.map((v) => resolveRefs(v, results));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveRefs(v, results)]));
  }
  return value;
}

const client = new Client({ name: "w2s-node-sweep", version: "0.0.0" });
// plan.stdio ({command, args, env, cwd}): the server as the Inspector's stdio transport starts it (its stderr
// ignored); no HTTP part then.
const transport = plan.stdio ? new StdioClientTransport({ ...plan.stdio, stderr: "ignore" })
  : new StreamableHTTPClientTransport(url, bearer(plan.token));
await client.connect(transport);
const capabilities = client.getServerCapabilities() ?? {};
const out = { server: client.getServerVersion(), capabilities, tools: [], list_error: null, calls: [] };
try {
  out.tools = (await client.listTools()).tools.map((t) => ({
    name: t.name, read_only: t.annotations?.readOnlyHint ?? null, output_schema: Boolean(t.outputSchema) }));
} catch (error) {
  out.list_error = String(error);
}
if (capabilities.resources) {
  out.resources = (await client.listResources()).resources.map((r) => r.uri);
  out.resource_templates = (await client.listResourceTemplates()).resourceTemplates.map((r) => r.uriTemplate);
}
if (capabilities.prompts) out.prompts = (await client.listPrompts()).prompts.map((p) => p.name);
// What the Inspector sends on connecting besides: a ping, and the log level where the server takes one.
out.extras = {};
for (const [name, request] of [["ping", () => client.ping()],
                               ["logging", capabilities.logging ? () => client.setLoggingLevel("info") : null]]) {
  if (!request) continue;
  try { await request(); out.extras[name] = null; } catch (error) { out.extras[name] = String(error); }
}

for (const call of plan.calls) {
  const args = resolveRefs(call.arguments, out.calls);
  try {
    const result = await client.callTool({ name: call.name, arguments: args });
    out.calls.push({ name: call.name, arguments: args, threw: null, is_error: Boolean(result.isError),
                     text: result.content?.map((c) => c.text ?? "").join("\n") ?? "",
                     structured: result.structuredContent ?? null });
  } catch (error) {
    out.calls.push({ name: call.name, arguments: args, threw: String(error), is_error: null, text: null,
                     structured: null });
  }
}
// The Inspector ends its session with a DELETE on disconnecting.
if (!plan.stdio) {
  try { await transport.terminateSession(); out.extras.terminate = null; } catch (error) {
    out.extras.terminate = String(error);
  }
}
await client.close();
if (plan.stdio) {
  console.log(JSON.stringify(out));
  process.exit(0);
}

// A token without this server's scope: what the server answers, what the SDK makes of it.
const initialize = { jsonrpc: "2.0", id: 1, method: "initialize", params: {
  protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "w2s-node-sweep", version: "0.0.0" } } };
const post = (token) => fetch(url, { method: "POST", body: JSON.stringify(initialize), headers: {
  Authorization: `Bearer ${token}`, "Content-Type": "application/json", Accept: "application/json, text/event-stream" } });
const raw = await post(plan.wrong_scope_token);
out.wrong_scope = { status: raw.status, www_authenticate: raw.headers.get("www-authenticate"),
                    body: await raw.text(), client_error: null, oauth_steps: [], oauth_error: null };
const unknown = await post("w2s_not_a_token");
out.unknown_token = { status: unknown.status, www_authenticate: unknown.headers.get("www-authenticate"),
                      body: await unknown.text() };
try {
  await new Client({ name: "w2s-node-sweep", version: "0.0.0" })
    .connect(new StreamableHTTPClientTransport(url, bearer(plan.wrong_scope_token)));
} catch (error) {
  out.wrong_scope.client_error = String(error);
}
// An auth provider as the Inspector's: every step of an OAuth flow it is asked for is recorded.
const steps = out.wrong_scope.oauth_steps;
const provider = {
  get redirectUrl() { return "http://127.0.0.1:1/callback"; },
  get clientMetadata() { return { redirect_uris: ["http://127.0.0.1:1/callback"], client_name: "w2s-node-sweep" }; },
  clientInformation() { steps.push("clientInformation"); return undefined; },
  saveClientInformation() { steps.push("saveClientInformation"); },
  tokens() { return { access_token: plan.wrong_scope_token, token_type: "Bearer" }; },
  saveTokens() { steps.push("saveTokens"); },
  redirectToAuthorization() { steps.push("redirectToAuthorization"); },
  saveCodeVerifier() { steps.push("saveCodeVerifier"); },
  codeVerifier() { steps.push("codeVerifier"); return ""; },
};
try {
  await new Client({ name: "w2s-node-sweep", version: "0.0.0" })
    .connect(new StreamableHTTPClientTransport(url, { authProvider: provider }));
} catch (error) {
  out.wrong_scope.oauth_error = String(error);
}
console.log(JSON.stringify(out));
