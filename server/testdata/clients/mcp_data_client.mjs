// Drives sandrun's MCP server with the official TypeScript SDK through a
// data session (issue 18's "done when"): a CSV passed as a file, a pandas
// groupby, a plot; and a one-shot run that plots. Prints what it saw as
// one JSON object for the Go test (data_test.go) to check.
//   node mcp_data_client.mjs URL [TOKEN]      streamable HTTP at URL
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [url, token] = process.argv.slice(2);
const headers = token ? { Authorization: `Bearer ${token}` } : {};
const client = new Client({ name: "sandrun-data-test", version: "1.0.0" });
await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
// callTool validates structuredContent against the tool's output schema.
const call = async (name, args) => {
  try {
    return await client.callTool({ name, arguments: args });
  } catch (e) {
    return { thrown: String(e) };
  }
};
const out = {};
const csv = "region,month,sales\nnorth,1,10\nsouth,1,7\nnorth,2,14\nsouth,2,9\neast,2,4\n";
out.create = await call("session_create", {
  language: "python-data",
  files: [{ name: "sales.csv", content: csv }],
  limits: { memory: "512MiB", wall_time: "120s" },
});
const id = out.create.structuredContent?.id;
out.step = await call("session_run", {
  session_id: id,
  code: "import pandas as pd\nimport matplotlib.pyplot as plt\n" +
    "df = pd.read_csv('sales.csv')\n" +
    "totals = df.groupby('region', as_index=False)['sales'].sum()\n" +
    "totals.plot.bar(x='region', y='sales', legend=False, title='sales by region')\n" +
    "totals",
});
out.close = await call("session_close", { session_id: id });
out.run = await call("run_code", {
  language: "python",
  code: "import matplotlib.pyplot as plt\nplt.plot([1, 4, 2, 8])\nplt.show()",
  figure_formats: ["png", "svg"],
  limits: { memory: "512MiB", wall_time: "120s", cpu_time: "60s" },
});
console.log(JSON.stringify(out));
await client.close();
