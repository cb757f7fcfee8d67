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
out.run = await client.callTool({
  name: "run_code",
  arguments: {
    language: "python",
    code: "import sys\nprint(open('data.txt').read().strip(), sys.stdin.read())\nprint('oops', file=sys.stderr)\nsys.exit(4)",
    files: [{ name: "data.txt", content: "from-a-file" }],
    stdin: "from-stdin",
    timeout: 20,
  },
}, undefined, { onprogress: (p) => out.progress.push(p.message) });
out.timeout = await client.callTool({
  name: "run_code",
  arguments: { language: "python", code: "while True: pass", timeout: 0.5 },
});
out.badLanguage = await client.callTool({ name: "run_code", arguments: { language: "cobol", code: "DISPLAY 1" } });
try {
  out.badArgs = await client.callTool({ name: "run_code", arguments: { language: "python", code: "print(1)", bogus: true } });
} catch (e) {
  out.badArgs = { thrown: String(e) };
}
await client.close();
console.log(JSON.stringify(out));
