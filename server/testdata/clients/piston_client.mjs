// Drives sandrun's Piston v2 routes with the npm piston-client and prints
// what it saw as one JSON object for the Go test to check.
//   node piston_client.mjs URL
import piston from "piston-client";

const client = piston({ server: process.argv[2] });
const out = {};
out.runtimes = await client.runtimes();
out.ok = await client.execute("python", "import sys\nprint('hi', sys.argv[1:])");
out.re = await client.execute({ language: "python", files: [{ content: "import sys\nsys.exit(3)" }], args: [] });
out.to = await client.execute({ language: "python", files: [{ content: "while True: pass" }], args: [], runTimeout: 500 });
out.ol = await client.execute({ language: "python", files: [{ content: "print('x' * 4000000)" }], args: [] });
out.stdin = await client.execute({ language: "bash", files: [{ content: "read a; echo got $a; cat extra.txt" }, { name: "extra.txt", content: "ZXh0cmEK", encoding: "base64" }], stdin: "line\n", args: [] });
out.unknown = await client.execute({ language: "cobol", version: "1.0", files: [{ content: "x" }] });
console.log(JSON.stringify(out));
