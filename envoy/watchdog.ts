// Envoy never outlives the Node process that started it. Node cannot ask the kernel to signal a
// child when the parent dies (prctl PR_SET_PDEATHSIG is not exposed, and macOS has none), so
// Envoy is started through a few lines of POSIX sh that become Envoy itself (`exec`, so the pid,
// the signals and the exit status are Envoy's) after leaving behind a watcher: a `cat` on a
// pipe whose only writer is Node. When Node goes, however it goes (exit, crash, SIGKILL), the
// kernel closes the pipe, `cat` sees end of file, and the watcher sends Envoy SIGTERM and
// removes the temporary folders Node would have removed. When Envoy ends first, Node closes the
// pipe once it has reaped it: the watcher finds no Envoy and leaves the folders to Node.
const WATCHED_EXEC = [
  'n="$1"; shift',
  "exec 3<&0",
  // Only if Envoy was still running (Node went first) are the folders Node's to clean up no more.
  '( cat <&3 >/dev/null; if kill -TERM "$$" 2>/dev/null; then i=0; while [ "$i" -lt "$n" ]; do rm -rf -- "$1"; shift; i=$((i + 1)); done; fi ) </dev/null >/dev/null 2>&1 &',
  'shift "$n"',
  'exec "$@" </dev/null 3<&-',
].join("\n");

/** The command and arguments that run `binary args` watched as above; give it a stdin pipe
 *  (`stdio[0] = "pipe"`) that stays open while the process should run. */
export function watchedCommand(binary: string, args: string[], cleanupDirs: string[]): [string, string[]] {
  return ["/bin/sh", ["-c", WATCHED_EXEC, "asm-llm-envoy", String(cleanupDirs.length), ...cleanupDirs, binary, ...args]];
}
