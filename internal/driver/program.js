// sandrun program mode for node (internal/driver/program.go): preloaded
// with -r by a one-use interpreter started ahead of its run. node has
// started; this waits for the run on fd 0 (one frame: 4-byte big-endian
// length, JSON), makes the process what `node FILE ARGS` would be, and
// returns: node then loads the main file itself. What follows the frame
// on fd 0 is the program's stdin.
'use strict';
(() => {
  const fs = require('fs');
  const Module = require('module');
  const self = __filename;
  delete require.cache[self];
  try { fs.unlinkSync(self); } catch (_) { /* gone already */ }
  fs.writeSync(2, '\u0000sandrun-program-ready\n');
  const readExact = (n) => {
    const b = Buffer.alloc(n);
    for (let off = 0; off < n;) {
      const r = fs.readSync(0, b, off, n - off, null);
      if (r === 0) process.reallyExit(0); // the supervisor gave up on this interpreter
      off += r;
    }
    return b;
  };
  const run = JSON.parse(readExact(readExact(4).readUInt32BE(0)).toString());
  Object.assign(process.env, run.env);
  process.argv.push(...run.args);
  process.execArgv = run.execArgv;
  Module._initPaths(); // NODE_PATH and HOME as the run's environment says
})();
