/**
 * A local disk that refuses to spool, for `vi.mock('node:fs')` and `vi.mock('node:fs/promises')`:
 * while `refusing`, every call that would write (create or open a file for writing, write,
 * append, copy, rename, make a directory or a temporary one) throws ENOSPC and is recorded,
 * and `statfs` reports only `freeBytes` free — a Lambda `/tmp` smaller than the bundle, full.
 * Reads go through, and so do writes under `elsewhere`: other machines' disks that happen to
 * be in this process (a Nexus stand-in's data directory). Only modules vitest loads see it.
 */
export interface RefusingDisk {
  refusing: boolean;
  /** Directories that are not the function's local storage. */
  elsewhere: string[];
  /** What `statfs` says is free while refusing. */
  freeBytes: number;
  /** `<call> <path>` of every write refused. */
  refused: string[];
}

const WRITES = /^(createWriteStream|writeFile|appendFile|copyFile|cp|rename|mkdir|mkdtemp|truncate|ftruncate|symlink|link|write|writev)(Sync)?$/;
const OPENS = /^open(Sync)?$/;
const STATFS = /^statfs(Sync)?$/;

type Module = Record<string, unknown>;
type Fn = (...args: unknown[]) => unknown;

/** The module with its writing calls wrapped; `async` for node:fs/promises (refusals reject). */
export function refusingFs<M extends Module>(original: M, disk: RefusingDisk, async: boolean): M {
  const wrapped: Module = {};
  for (const [name, value] of Object.entries(original)) {
    wrapped[name] = typeof value === 'function' && /^[a-z]/.test(name) ? wrap(name, value as Fn, disk, async) : value;
  }
  if (!async && typeof original.promises === 'object' && original.promises !== null) {
    wrapped.promises = refusingFs(original.promises as Module, disk, true);
  }
  wrapped.default = wrapped;
  return wrapped as M;
}

function wrap(name: string, fn: Fn, disk: RefusingDisk, async: boolean): Fn {
  const writes = WRITES.test(name);
  const opens = OPENS.test(name);
  const statfs = STATFS.test(name);
  if (!writes && !opens && !statfs) return fn;
  return (...args: unknown[]) => {
    if (!disk.refusing) return fn(...args);
    if (statfs) return async && !name.endsWith('Sync') ? (fn(...args) as Promise<StatFs>).then((s) => full(s, disk)) : full(fn(...args) as StatFs, disk);
    if ((writes || (opens && writesFlags(args[1]))) && !disk.elsewhere.some((dir) => String(args[0]).startsWith(`${dir}/`))) {
      const error = Object.assign(new Error(`ENOSPC: no space left on device, ${name} '${String(args[0])}' (a disk that refuses to spool)`), { code: 'ENOSPC', syscall: name, path: String(args[0]) });
      disk.refused.push(`${name} ${String(args[0])}`);
      if (async) return Promise.reject(error);
      throw error;
    }
    return fn(...args);
  };
}

interface StatFs {
  bsize: number;
  bavail: number;
  bfree: number;
}

function full<S extends StatFs>(stats: S, disk: RefusingDisk): S {
  const blocks = Math.floor(disk.freeBytes / stats.bsize);
  return Object.assign(Object.create(Object.getPrototypeOf(stats) as object) as S, stats, { bavail: blocks, bfree: blocks });
}

/** Whether `open`'s flags (a string such as 'w+' or a number) ask for anything but reading. */
function writesFlags(flags: unknown): boolean {
  if (flags === undefined || flags === null) return false;
  if (typeof flags === 'number') return (flags & 3) !== 0; // O_WRONLY | O_RDWR
  return String(flags) !== 'r' && String(flags) !== 'rs' && String(flags) !== 'sr';
}
