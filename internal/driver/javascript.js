// sandrun session driver for javascript: runs inside the sandboxed node.
// Protocol: internal/driver/doc.go. Everything here is reachable by the
// user's code; the supervisor treats every frame it sends as untrusted.
'use strict';
const fs = require('fs');
const vm = require('vm');
const { Writable, Readable } = require('stream');
const { Console } = require('console');
const { createRequire } = require('module');
const { inspect } = require('util');

const realIn = process.stdin;
const realExit = process.exit.bind(process);
const MAXIN = 64 << 20;

function writeAll(buf) {
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(1, buf, off, buf.length - off);
    } catch (e) {
      if (e.code !== 'EAGAIN') realExit(0);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}
function send(obj) {
  const b = Buffer.from(JSON.stringify(obj));
  const h = Buffer.alloc(4);
  h.writeUInt32BE(b.length);
  writeAll(Buffer.concat([h, b]));
}

let cur = -1; // the running step, -1 between steps
function userStream(s) {
  const w = new Writable();
  w.write = function (chunk, enc, cb) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk), typeof enc === 'string' ? enc : 'utf8');
    if (cur >= 0 && b.length) send({ t: 'out', step: cur, s, d: b.toString('base64') });
    if (typeof enc === 'function') enc(); else if (typeof cb === 'function') cb();
    return true;
  };
  w.isTTY = false;
  return w;
}
const out = userStream('o');
const err = userStream('e');
let stepIn = Readable.from([]);
// The user's process.stdout/stderr/stdin never touch fds 0 and 1, which
// carry the protocol.
Object.defineProperty(process, 'stdout', { configurable: true, enumerable: true, get: () => out });
Object.defineProperty(process, 'stderr', { configurable: true, enumerable: true, get: () => err });
Object.defineProperty(process, 'stdin', { configurable: true, enumerable: true, get: () => stepIn });
const con = new Console({ stdout: out, stderr: err });
globalThis.console = con;

class StepExit extends Error { constructor(code) { super('exit'); this.code = code; } }
process.exit = (code) => { throw new StepExit(code === undefined ? (process.exitCode || 0) : code); };

const sandbox = {
  console: con, process, require: createRequire(process.cwd() + '/'), Buffer,
  setTimeout, clearTimeout, setInterval, clearInterval, setImmediate, clearImmediate,
  queueMicrotask, URL, URLSearchParams, TextEncoder, TextDecoder, structuredClone,
  fetch: globalThis.fetch, AbortController, atob, btoa,
};
sandbox.globalThis = sandbox;
const ctx = vm.createContext(sandbox);

let interruptWait = null;
process.on('SIGINT', () => { if (interruptWait) interruptWait(); });

// userStack is the error's stack without the driver's frames: they
// start at the first frame in node's vm module or in this driver ([eval]).
function userStack(e) {
  const lines = String((e && e.stack) || e).split('\n');
  const cut = lines.findIndex((l) => /^\s+at .*(node:vm|\[eval\])/.test(l));
  return (cut > 0 ? lines.slice(0, cut) : lines).join('\n');
}

function report(e, res) {
  if (e instanceof StepExit) {
    const c = Number(e.code) || 0;
    res.kind = c ? 'exit' : 'ok'; res.exit = c;
    return;
  }
  const name = e && e.name;
  if (name === 'SyntaxError' && res.compiling) res.kind = 'syntax';
  else if (e && e.code === 'ERR_SCRIPT_EXECUTION_INTERRUPTED') res.kind = 'interrupted';
  else if (name === 'RangeError' && /call stack/.test(String(e.message))) { res.kind = 'exception'; res.exc = name; }
  else { res.kind = 'exception'; res.exc = name || typeof e; }
  res.exit = 1;
  try { err.write(userStack(e) + '\n'); } catch (_) { /* best effort */ }
}

async function step(msg) {
  cur = msg.step;
  stepIn = Readable.from(msg.stdin ? [Buffer.from(msg.stdin)] : []);
  const res = { t: 'done', step: msg.step, kind: 'ok', exit: 0, compiling: true };
  const cpu0 = process.cpuUsage();
  if (msg.env) Object.assign(process.env, msg.env);
  if (Array.isArray(msg.argv)) process.argv = [process.argv[0], msg.name || '[eval]', ...msg.argv];
  try {
    const script = new vm.Script(msg.code, { filename: msg.name || '<step>' });
    res.compiling = false;
    let v = script.runInContext(ctx, { breakOnSigint: true, displayErrors: false });
    const thenable = v && typeof v.then === 'function';
    if (msg.mode === 'interactive' && !thenable && v !== undefined) {
      // A REPL line: echo the completion value as node's REPL does, and
      // keep it in _.
      sandbox._ = v;
      out.write(inspect(v) + '\n');
    }
    if (thenable) {
      const interrupted = new Promise((_, rej) => {
        interruptWait = () => rej(Object.assign(new Error('Script execution was interrupted by SIGINT'), { code: 'ERR_SCRIPT_EXECUTION_INTERRUPTED' }));
      });
      await Promise.race([v, interrupted]);
    }
  } catch (e) {
    // In a REPL, process.exit ends the interpreter with its code (the
    // output is already sent: send is synchronous).
    if (msg.mode === 'interactive' && e instanceof StepExit) {
      const c = (Number(e.code) || 0) & 0xff;
      send({ t: 'done', step: msg.step, kind: c ? 'exit' : 'ok', exit: c, end: true });
      // Exit once the supervisor has read the frames: it closes our input
      // when the done frame arrives (bounded, should it not).
      realIn.removeAllListeners('end');
      realIn.on('end', () => realExit(c));
      setTimeout(() => realExit(c), 5000);
      return;
    }
    report(e, res);
  } finally {
    interruptWait = null;
  }
  delete res.compiling;
  const cpu = process.cpuUsage(cpu0);
  res.cpu_ms = Math.round((cpu.user + cpu.system) / 1000);
  cur = -1;
  send(res);
}

let buf = Buffer.alloc(0);
let busy = Promise.resolve();
realIn.on('data', (c) => {
  buf = Buffer.concat([buf, c]);
  while (buf.length >= 4) {
    const n = buf.readUInt32BE(0);
    if (n > MAXIN) realExit(3);
    if (buf.length < 4 + n) break;
    const msg = JSON.parse(buf.subarray(4, 4 + n).toString());
    buf = buf.subarray(4 + n);
    if (msg.t === 'run') busy = busy.then(() => step(msg));
  }
});
realIn.on('end', () => realExit(0));
send({ t: 'ready', lang: 'javascript', pid: process.pid });
