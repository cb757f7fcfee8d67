// Drives sandrun's Piston v2 routes with the npm piston-client and prints
// what it saw as one JSON object for the Go test to check.
//   node piston_client.mjs URL published     the client as published
//   node --import ./piston_json.mjs piston_client.mjs URL fixed
//                                            with its Content-Type fix
import piston from "piston-client";

const [url, mode] = process.argv.slice(2);
const client = piston({ server: url });
const out = { runtimes: await client.runtimes() };
if (mode === "published") {
  // As against Piston itself: the body goes as text/plain, refused 415.
  out.execute = await client.execute("python", "print(1)");
  console.log(JSON.stringify(out));
  process.exit(0);
}
const run = (cfg) => client.execute({ args: [], ...cfg });
out.ok = await client.execute("python", "import sys\nprint('hi', sys.argv[1:])");
out.re = await run({ language: "python", files: [{ content: "import sys\nsys.exit(3)" }] });
out.to = await run({ language: "python", files: [{ content: "while True: pass" }], runTimeout: 500 });
out.ol = await run({ language: "python", files: [{ content: "print('x' * 4000000)" }] });
out.stdin = await run({
  language: "bash",
  files: [{ content: "read a; echo got $a; cat extra.txt" }, { name: "extra.txt", content: "ZXh0cmEK", encoding: "base64" }],
  stdin: "line",
});
out.unknown = await run({ language: "cobol", version: "1.0", files: [{ content: "x" }] });
// The program is the first utf8 file: a binary file may come first, and
// every file (the program too) is in the work directory under its name.
out.binaryFirst = await run({
  language: "python",
  files: [
    { name: "blob.bin", content: "AAEC/w==", encoding: "base64" },
    { name: "prog.py", content: "print(open('blob.bin','rb').read().hex(), open('prog.py').read()[:5], open('h.txt').read())" },
    { name: "h.txt", content: "6869", encoding: "hex" },
  ],
});
out.noText = await run({ language: "python", files: [{ content: "AAEC", encoding: "base64" }] });
// npm semver ranges, as Piston resolves them.
out.ranges = {};
for (const v of ["^3.10.0", ">=3.0.0", "~3.11", "3.x", "3", "*", "x", "<3", "^2.7.0", ">=4"]) {
  const r = await run({ language: "python", version: v, files: [{ content: "print('ok')" }] });
  out.ranges[v] = r.run ? r.run.stdout : r.message;
}
// Piston's aliases (its package metadata).
out.aliases = {};
for (const a of ["node-js", "node-javascript", "js", "py3", "python3", "sh"]) {
  const r = await run({ language: a, version: "*", files: [{ content: a.startsWith("py") ? "print('ok')" : a === "sh" ? "echo ok" : "console.log('ok')" }] });
  out.aliases[a] = r.run ? `${r.language} ${r.run.stdout}` : r.message;
}
out.negative = await run({ language: "python", files: [{ content: "print(1)" }], runTimeout: -5 });
out.notNumber = await run({ language: "python", files: [{ content: "print(1)" }], runTimeout: "3000" });
out.overCap = await run({ language: "python", files: [{ content: "print(1)" }], runTimeout: 36000000 });
console.log(JSON.stringify(out));
