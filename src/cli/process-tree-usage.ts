/**
 * CPU and memory of a process and its direct children, read from /proc (Linux): how the
 * cost-curve benchmark splits a service's cost into Node and its ffmpeg decoders, including
 * decoders that started or ended between two readings (promotions, restarts).
 */
import { readdirSync, readFileSync } from "node:fs";

/** USER_HZ: 100 on every Linux that Debian ships. */
const TICKS_PER_SECOND = 100;

export interface ProcessUsage {
  readonly pid: number;
  /** CPU seconds of the process itself (every thread). */
  readonly cpu: number;
  /** Resident bytes, and the proportional share (shared pages divided among their users). */
  readonly rss: number;
  readonly pss: number;
}

export interface TreeUsage extends ProcessUsage {
  /** CPU seconds of children already waited for (they are gone from `children`). */
  readonly reapedCpu: number;
  readonly children: readonly ProcessUsage[];
}

function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces; the fields after it start past the last ')'.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null;
  }
}

function kib(file: string, key: string): number {
  try {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(readFileSync(file, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function usageOf(pid: number, fields: readonly string[]): ProcessUsage {
  return {
    pid,
    cpu: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND,
    rss: kib(`/proc/${pid}/status`, "VmRSS"),
    pss: kib(`/proc/${pid}/smaps_rollup`, "Pss"),
  };
}

/** The process and its live children now; null when it is gone. */
export function treeUsage(pid: number): TreeUsage | null {
  const own = statFields(pid);
  if (!own) return null;
  const children: ProcessUsage[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const child = Number(name);
    const f = statFields(child);
    // Field 4, the parent's pid; a child that ended since the listing is skipped.
    if (f && Number(f[1]) === pid) children.push(usageOf(child, f));
  }
  return {
    ...usageOf(pid, own),
    reapedCpu: (Number(own[13]) + Number(own[14])) / TICKS_PER_SECOND,
    children,
  };
}

/**
 * The children's CPU between two readings: what the reaped ones added, plus the live ones'
 * now, less the live ones' then. A child alive at `a` and reaped before `b` counts its whole
 * total in the reaped sum and its reading at `a` is taken off: the difference is its share.
 */
export function childrenCpuBetween(a: TreeUsage, b: TreeUsage): number {
  const live = (t: TreeUsage): number => t.children.reduce((s, c) => s + c.cpu, 0);
  return b.reapedCpu - a.reapedCpu + live(b) - live(a);
}
