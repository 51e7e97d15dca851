// The official TypeScript MCP SDK following a job with wait_job, as a Node client would
// (tests/mcp_servers/jobs/test_tools_node.py runs it against a real compute server).
//
//   node wait_job.mjs <server /mcp URL> <job id> <max_wait_s>   (bearer token in W2S_TOKEN)
//
// First a plain call (no options: the SDK's 60 s default request timeout, no progress handling) with the tool's
// default wait; then one of max_wait_s with resetTimeoutOnProgress, still under the 60 s default timeout.
// Prints one JSON line per call: {call, ok, state, elapsed_s, progress, error}.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { DEFAULT_REQUEST_TIMEOUT_MSEC } from "@modelcontextprotocol/sdk/shared/protocol.js";

const [url, jobId, maxWait] = process.argv.slice(2);
const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { Authorization: `Bearer ${process.env.W2S_TOKEN}` } },
});
const client = new Client({ name: "w2s-node-wait-job", version: "0.0.0" });
await client.connect(transport);

async function timed(call, args, options) {
  const started = Date.now();
  const progress = [];
  const onprogress = (p) => progress.push({ at_s: (Date.now() - started) / 1000, value: p.progress });
  try {
    const result = await client.callTool({ name: "wait_job", arguments: args }, undefined,
      options ? { ...options, onprogress } : undefined);
    const text = result.content?.[0]?.text ?? "";
    const state = result.structuredContent?.state ?? null;
    return { call, ok: !result.isError, state, elapsed_s: (Date.now() - started) / 1000, progress,
             error: result.isError ? text : null, timeout_ms: DEFAULT_REQUEST_TIMEOUT_MSEC };
  } catch (error) {
    return { call, ok: false, state: null, elapsed_s: (Date.now() - started) / 1000, progress,
             error: String(error), timeout_ms: DEFAULT_REQUEST_TIMEOUT_MSEC };
  }
}

console.log(JSON.stringify(await timed("plain", { job_id: jobId })));
console.log(JSON.stringify(await timed("long", { job_id: jobId, max_wait_s: Number(maxWait) },
                                       { resetTimeoutOnProgress: true })));
await client.close();
