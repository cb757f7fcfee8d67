// Package session keeps stateful sandboxed interpreters for agents that
// work in steps: variables, imports, functions and files in the work
// directory survive from one run to the next.
//
// A session is one long-lived interpreter started through a backend's
// sandrun.Launcher (jail, or the process tier), with every protection a
// one-shot run gets, running a small driver program (internal/driver)
// that takes code over a framed protocol on stdin/stdout and runs it in a
// persistent namespace. The protocol, and how each step's stdout and
// stderr are kept apart from it, is documented in internal/driver's
// doc.go.
//
// Limits of a session (Spec.Limits):
//   - memory, processes, open_files, file_size, work_dir: the whole session
//     (the interpreter and everything it starts, for its whole life);
//   - wall_time: the default time limit of each step (RunRequest.Timeout
//     may lower it per step);
//   - cpu_time: the whole session's CPU budget (default: its lifetime);
//   - output: the cap on each stream of each step.
//
// A step past its time limit or output cap is interrupted (SIGINT, turned
// into KeyboardInterrupt in python and a vm interrupt in javascript) so
// the state survives; if it does not stop within the grace period the
// interpreter is killed and the session is dead, with a status saying why
// (timeout, output_limit, memory_limit, ...). A dead session keeps its
// Info (state "dead", status, error) until it is closed or reaped; its
// processes and files are released at once.
//
// The Manager caps live sessions, closes sessions idle longer than their
// idle timeout and those past their maximum lifetime, and on Close ends
// every session and removes everything they made.
package session
