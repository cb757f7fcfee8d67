// Package restricted is the restricted tier: Starlark (go.starlark.net), a
// Python dialect with no I/O, run by sandrun itself. It is the Go
// counterpart of the seed's RestrictedPython tier: math, data transforms,
// simple scripts, and host-provided APIs, in well under a millisecond.
//
// # Language
//
// The Python-friendly dialect options are on by default (Dialect: while,
// top-level control flow, global reassignment, set, recursion), so typical
// agent snippets run. Python constructs Starlark lacks (import, class,
// try, with, raise, **, f-strings ...) are compile errors whose message
// names the construct and points to the jail tier for full Python. The
// built-ins are Starlark's own (none does I/O) plus sum and round;
// predeclared modules come from an allowlist (math, json, time; time.now
// fails unless Options.WallClock). print goes to stdout under the output
// cap; errors go to stderr as file:line:col tracebacks. Result.Variables
// holds the globals the program created, as JSON (non-JSON values as
// "<type>").
//
// # Limits, and why a worker process
//
// Steps (the CPU limit x StepsPerCPUSecond), call depth, the wall clock
// (thread cancellation) and the output cap are enforced by the
// interpreter. Memory cannot be: go.starlark.net has no allocation limit
// ('a' * (900<<20) allocates 900 MB in one step), and one built-in step
// (multiplying huge ints, hashing colliding keys) cannot be interrupted.
// So the interpreter runs in a worker: sandrun re-executed as
// "sandrun __child starlark", in its own session, with PDEATHSIG, no
// core dumps, no files, few descriptors and no_new_privs. Before each run
// the parent sets the worker's soft RLIMIT_DATA (memory limit + a runtime
// reserve; RLIMIT_AS does not fit Go, which reserves over 1 GiB of address
// space) and RLIMIT_CPU (cumulative CPU so far + the limit; the worker
// kills itself on SIGXCPU), and kills it at the wall limit + 100 ms. A
// worker that exceeds its memory dies with the Go runtime's "out of
// memory" and the run ends memory_limit; the parent never holds more than
// the output cap and a few capped frames, so its own RSS stays flat
// (TestRestrictedAttacks measures it). Workers are started ahead (Warm)
// and reused after runs that ended normally (ok, exit_error,
// compile_error); a worker that hit any limit is discarded, as is one that
// served MaxRunsPerWorker runs. Only soft limits change per run: raising
// a hard limit needs CAP_SYS_RESOURCE, which the supervisor may lack.
//
// Options.InProcess runs the interpreter in the caller's goroutine
// instead: faster, host values of any type, but no memory bound and no
// kill for a long single step. Every such result lists the downgrade.
//
// # Host functions
//
// Host APIs are Options.Predeclared. Data values are copied into the
// worker once per run. Go functions (*starlark.Builtin, also inside a
// *starlarkstruct.Module) cannot run in the worker, a different process,
// so they are proxied: the worker's stand-in encodes the arguments, the
// parent runs the real function and sends back the result. This keeps the
// memory bound for the program while the host function keeps access to the
// host's state, which is the point of a host API. The cost is one round
// trip per call; this package's own built-ins (MathEnv's sqrt, round ...)
// are recognised and run natively in the worker instead. Arguments and
// results are capped (MaxHostArgBytes, nesting depth 64, cycles refused)
// before they are built on the receiving side; ints travel in hexadecimal
// so decoding is linear; functions arrive as an Opaque. A host function
// runs with the run's context (RunContext) and deadline: one that does not
// return in time makes the run a timeout, and a panic becomes the
// program's error.
//
// # Worker protocol
//
// Frames on the worker's stdin (parent to worker) and stdout (worker to
// parent): a 4-byte big-endian length n, then n bytes: a kind byte and the
// payload. Payloads are JSON except out frames (raw bytes). Every reader
// caps the frame size before allocating, and a frame over its cap ends the
// exchange (the worker is killed, the run is internal_error).
//
//	worker                                   parent
//	  |-- H hello {pid, version, cpu} ---------->|   once, when ready
//	  |<--------- R run {spec, host decls} ------|   after prlimit
//	  |-- O out <raw stdout bytes> ------------->|   batched: 32 KiB or 20 ms
//	  |-- C call {func id, args, kwargs} ------->|   a host function call
//	  |<--------- V return {value | error} ------|
//	  |-- D done {outcome, cpu, peak rss} ------>|   ends the run
//	  |<--------- R run ... (next run) ----------|
//	  |   EOF on stdin: the worker exits 0        |
//
// The worker's stderr is not part of the protocol: it carries only Go
// runtime crash reports, which the parent reads (the first 16 KiB) to tell
// an out-of-memory death from a crash. The outcome in the done frame is
// decided by the interpreter (ok, exit_error, compile_error, cpu_limit for
// steps, timeout, output_limit); a worker that dies instead is classified
// by the parent: killed at the wall limit or on cancel (timeout), the
// runtime's out-of-memory report (memory_limit), SIGXCPU (cpu_limit), a
// stack overflow (exit_error), anything else internal_error.
//
// # Starlark on the OS tiers
//
// LanguageSpec registers "starlark" with the language registry: the
// interpreter is the sandrun binary, run as "__child starlark-file
// --heap-mib=N main.star" (it caps its own RLIMIT_DATA from N), and its
// Paths are that binary, so --lang starlark --backend process or jail runs
// the same runtime inside the OS sandbox: defence in depth, as the seed
// advises for RestrictedPython. There the environment is the default one
// (allowlisted modules, MathEnv) and the OS tier enforces the limits.
package restricted
