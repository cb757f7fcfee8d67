// Package driver runs code step by step in a long-lived sandboxed
// interpreter: the small driver program that runs inside it (python.py,
// javascript.js) and the supervisor's side of the framed protocol that
// drives it over the process's stdin and stdout. Sessions and warm pools
// are both built on it.
//
// # Protocol
//
// Every message, in both directions, is one frame: a 4-byte big-endian
// length N followed by N bytes of UTF-8 JSON (one object). The supervisor
// refuses frames over MaxFrame bytes; the driver refuses frames over
// 64 MiB. Field "t" is the frame type.
//
//	driver -> supervisor  {"t":"ready","lang":"python","pid":7}
//	                      sent once, after the driver has set itself up
//	supervisor -> driver  {"t":"run","step":1,"code":"x = 1","name":"<step 1>","stdin":"","argv":null,"env":null}
//	                      plus "mode":"interactive" for a REPL line: values of
//	                      expression statements are echoed, and an exit ends
//	                      the interpreter with its code, right after a done
//	                      frame marked "end":true
//	driver -> supervisor  {"t":"out","step":1,"s":"o","d":"aGVsbG8K"}   (zero or more)
//	                      a chunk of the step's stdout ("o") or stderr ("e"), base64;
//	                      python also sends "d": what the step showed, as
//	                      internal/display's JSON lines (its last value, the
//	                      figures open at its end), capped like a stream
//	driver -> supervisor  {"t":"done","step":1,"kind":"ok","exit":0,"cpu_ms":3,"exc":""}
//
// kind is one of ok, exit (SystemExit / process.exit with a non-zero code;
// exit holds it), syntax (the step does not compile), exception (exc names
// its class), interrupted (SIGINT turned into KeyboardInterrupt or a vm
// interrupt), memory (MemoryError). Steps run one at a time; the
// supervisor sends the next run only after the done of the previous one.
// Closing the driver's stdin ends it.
//
// # Keeping user output apart from the protocol
//
// The python driver moves the protocol to private duplicates of fds 0 and
// 1 at start and points fds 0, 1 and 2 at /dev/null. For each step it
// points fd 1 and 2 at fresh pipes (and fd 0 at a pipe holding the step's
// stdin); reader threads forward what arrives as out frames tagged with
// the step number. So print(), os.write(1, ...) and child processes all
// land in the step's output, and a program that prints a well-formed
// frame only prints text. The javascript driver cannot move file
// descriptors (node has no dup2), so it replaces process.stdout,
// process.stderr, process.stdin and console with objects that forward
// into frames; a program that writes to fd 1 itself (fs.writeSync(1, ...)
// or a child with inherited stdio) writes into the protocol stream.
//
// In either language the user's code runs in the driver's own process and
// can reach the protocol descriptors on purpose. The protocol is
// therefore not a boundary and the supervisor treats every frame as
// untrusted input: frame size is capped, output is counted and capped on
// the supervisor's side, statuses for timeouts, output floods and memory
// come from the supervisor and the kernel, not from the driver, and a
// frame that does not parse ends the interpreter (fail closed: the step
// and the session report internal_error "protocol violation"). Forged
// frames can only misreport the forger's own step.
//
// # Interrupts
//
// A step past its time limit (or over its output cap, or cancelled) gets
// SIGINT. The python driver raises KeyboardInterrupt only while user code
// runs (a flag guards the driver's own bookkeeping); the javascript driver
// runs steps with vm's breakOnSigint and abandons a pending promise on
// SIGINT. If no done frame follows within the grace period (the code
// ignores or swallows the interrupt, or sits in native code), the caller
// kills the interpreter and the session is over.
package driver
