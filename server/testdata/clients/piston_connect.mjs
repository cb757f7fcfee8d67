// Drives sandrun's Piston WebSocket /api/v2/connect with the npm ws
// client and prints what it saw as one JSON object for the Go test.
//   node piston_connect.mjs BASE_URL TOKEN
import WebSocket from "ws";

const [base, token] = process.argv.slice(2);
const wsURL = base.replace(/^http/, "ws") + "/api/v2/connect";

// session opens a connection and runs script(ws, log) on it; it resolves
// with every message received, the close code and reason, and what the
// script recorded.
function session(script, headers = { Authorization: `Bearer ${token}` }) {
  return new Promise((resolve) => {
    const ws = new WebSocket(wsURL, { headers });
    const got = { messages: [], events: [] };
    const waiters = [];
    ws.on("message", (data) => {
      const m = JSON.parse(data.toString());
      got.messages.push(m);
      for (const w of [...waiters]) {
        if (w.pred(m, text(got.messages, "stdout"))) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    });
    // until waits for a message matching pred; pred also sees the stdout
    // received so far (the sanitizer's streaming filter may hold a line's
    // start until its end, and a program's write may come in pieces).
    const until = (pred) => new Promise((res) => {
      const hit = got.messages.find((m) => pred(m, text(got.messages, "stdout")));
      if (hit) return res(hit);
      waiters.push({ pred, resolve: res });
    });
    ws.on("open", () => script(ws, until, got.events).catch((e) => got.events.push("script error: " + e)));
    ws.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ httpStatus: res.statusCode, body }));
    });
    ws.on("error", (e) => got.events.push("error: " + e.message));
    ws.on("close", (code, reason) => resolve({ ...got, code, reason: reason.toString() }));
  });
}
const send = (ws, m) => ws.send(JSON.stringify(m));
const text = (msgs, stream) => msgs.filter((m) => m.type === "data" && m.stream === stream).map((m) => m.data).join("");

const out = {};
// Input as it comes, output as it comes: the second line is sent only
// after the answer to the first arrived.
out.interactive = await session(async (ws, until, ev) => {
  send(ws, {
    type: "init", language: "bash", version: "*", args: ["A1"],
    files: [{ content: "echo start $1\nread a\necho \"got $a\"\nread b\necho \"err $b\" >&2\nexit 3" }],
  });
  await until((m, out) => out.includes("start A1\n"));
  send(ws, { type: "data", stream: "stdin", data: "hello\n" });
  await until((m, out) => out.includes("got hello\n"));
  ev.push("answer before second line");
  send(ws, { type: "data", stream: "stdin", data: "world\n" });
});
out.interactive.stdout = text(out.interactive.messages, "stdout");
out.interactive.stderr = text(out.interactive.messages, "stderr");

// A signal reaches the program.
out.signal = await session(async (ws, until) => {
  send(ws, { type: "init", language: "python", version: "3", files: [{ content: "import time\nprint('ready', flush=True)\ntime.sleep(60)" }] });
  await until((m, out) => out.includes("ready\n"));
  send(ws, { type: "signal", signal: "SIGTERM" });
});
// The run's time limit.
out.timeout = await session(async (ws) => {
  send(ws, { type: "init", language: "bash", version: "*", run_timeout: 700, files: [{ content: "cat" }] });
});
// Protocol errors, with Piston's close codes.
out.notInit = await session(async (ws) => send(ws, { type: "data", stream: "stdin", data: "x" }));
out.twice = await session(async (ws, until) => {
  send(ws, { type: "init", language: "bash", version: "*", files: [{ content: "sleep 5" }] });
  await until((m) => m.type === "stage");
  send(ws, { type: "init", language: "bash", version: "*", files: [{ content: "echo 2" }] });
});
out.badRuntime = await session(async (ws) => send(ws, { type: "init", language: "cobol", version: "1", files: [{ content: "x" }] }));
out.badStream = await session(async (ws, until) => {
  send(ws, { type: "init", language: "bash", version: "*", files: [{ content: "sleep 5" }] });
  await until((m) => m.type === "stage");
  send(ws, { type: "data", stream: "stdout", data: "x" });
});
out.badSignal = await session(async (ws, until) => {
  send(ws, { type: "init", language: "bash", version: "*", files: [{ content: "sleep 5" }] });
  await until((m) => m.type === "stage");
  send(ws, { type: "signal", signal: "SIGNOPE" });
});
out.noInit = await session(async () => {});
// The same authentication and origin rules as the rest of the API.
out.noToken = await session(async () => {}, {});
out.crossOrigin = await session(async () => {}, { Authorization: `Bearer ${token}`, Origin: "http://evil.example" });
console.log(JSON.stringify(out));
process.exit(0); // the refused upgrades leave sockets open
