/**
 * Crash points for the crash-safety tests. With `FERRY_FAULT_POINT=<name>` in the
 * environment, the process kills itself with SIGKILL when it reaches the point of that
 * name: no `finally`, no flush, exactly what a power cut or an OOM kill leaves behind. The
 * tests then run the same command again and check that nothing was lost or sealed twice.
 * Unset (always, outside tests), a point costs one property read.
 */
export function faultPoint(name: string): void {
  if (process.env.FERRY_FAULT_POINT === name) process.kill(process.pid, 'SIGKILL');
}
