// Drives sandrun's MCP server with the official TypeScript SDK and prints
// what it saw as one JSON object for the Go test to check.
//   node mcp_client.mjs stdio CMD [ARGS...]   spawns CMD (sandrun mcp)
//   node mcp_client.mjs http URL [TOKEN]      streamable HTTP at URL
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [mode, target, ...rest] = process.argv.slice(2);
let transport;
if (mode === "stdio") {
  transport = new StdioClientTransport({ command: target, args: rest, env: process.env, stderr: "inherit" });
} else if (mode === "http") {
  const headers = rest[0] ? { Authorization: `Bearer ${rest[0]}` } : {};
  transport = new StreamableHTTPClientTransport(new URL(target), { requestInit: { headers } });
} else {
  console.error("usage: mcp_client.mjs stdio CMD [ARGS...] | http URL [TOKEN]");
  process.exit(2);
}
const client = new Client({ name: "sandrun-test", version: "1.0.0" });
await client.connect(transport);
const out = { server: client.getServerVersion() };
out.tools = (await client.listTools()).tools;
out.languages = await client.callTool({ name: "list_languages", arguments: {} });
out.progress = [];
// callTool validates structuredContent against the tool's outputSchema
// (the SDK compiles the schemas listTools returned): a reply that does
// not match throws, and the test reports it.
const call = async (name, args, opts) => {
  try {
    return await client.callTool({ name, arguments: args }, undefined, opts);
  } catch (e) {
    return { thrown: String(e) };
  }
};
out.run = await call("run_code", {
  language: "python",
  code: "import sys\nprint(open('data.txt').read().strip(), sys.stdin.read())\nprint('oops', file=sys.stderr)\nsys.exit(4)",
  files: [{ name: "data.txt", content: "from-a-file" }],
  stdin: "from-stdin",
  limits: { wall_time: "20s" },
}, { onprogress: (p) => out.progress.push(p.message) });
// What POST /v1/runs takes: args, env, limits with units, a tier, files
// back (collect).
out.full = await call("run_code", {
  language: "bash",
  code: "echo \"$1 $GREETING\"; echo data > out.txt; printf '\\000\\001' > bin.dat; echo skip > no.log",
  args: ["hello"],
  env: { GREETING: "world" },
  limits: { wall_time: "30s", memory: "128MiB", output: "64KiB" },
  backend: "auto",
  collect: ["*.txt", "bin.dat"],
});
out.timeout = await call("run_code", { language: "python", code: "while True: pass", limits: { wall_time: "500ms" } });
out.badLanguage = await call("run_code", { language: "cobol", code: "DISPLAY 1" });
out.badArgs = await call("run_code", { language: "python", code: "print(1)", bogus: true });
out.bareNumber = await call("run_code", { language: "python", code: "print(1)", limits: { wall_time: 5 } });
out.oldTimeout = await call("run_code", { language: "python", code: "print(1)", timeout: 5 });
if (out.tools.some((t) => t.name === "session_create")) {
  const s = await call("session_create", { language: "python", idle_timeout: "2m" });
  out.session = { create: s };
  const id = s.structuredContent && s.structuredContent.id;
  out.session.set = await call("session_run", { session_id: id, code: "x = 41" });
  out.session.get = await call("session_run", { session_id: id, code: "print(x + 1)" });
  out.session.bareNumber = await call("session_run", { session_id: id, code: "print(1)", limits: { wall_time: 5 } });
  out.session.list = await call("session_list", {});
  out.session.close = await call("session_close", { session_id: id });
}
await client.close();
console.log(JSON.stringify(out));
