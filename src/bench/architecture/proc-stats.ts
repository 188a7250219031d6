/**
 * CPU and memory of processes, from /proc (Linux): what each role of the benchmark reports
 * about itself, so every design's CPU is the sum of its processes' measured CPU seconds, never
 * wall time on a machine others share.
 */
import { readFileSync } from "node:fs";

/** USER_HZ: 100 on every Linux that Debian ships. */
const TICKS_PER_SECOND = 100;

export interface CpuTimes {
  /** This process's own user + system CPU seconds. */
  readonly self: number;
  /** Of its children that have exited and been waited for (ffmpeg decoders): cutime + cstime. */
  readonly children: number;
}

export function cpuTimes(pid: number | "self" = "self"): CpuTimes {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may hold spaces; fields after it start past the last ')'.
  const f = stat
    .slice(stat.lastIndexOf(")") + 2)
    .split(" ")
    .map(Number);
  const at = (i: number): number => f[i] ?? 0;
  return {
    self: (at(11) + at(12)) / TICKS_PER_SECOND,
    children: (at(13) + at(14)) / TICKS_PER_SECOND,
  };
}

/** Resident memory of one process now, bytes; 0 when it is gone. */
export function rssBytes(pid: number | "self" = "self"): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** The pids of a process and all its descendants now (via /proc/<pid>/task/<tid>/children). */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    const p = out[i]!;
    try {
      const kids = readFileSync(`/proc/${p}/task/${p}/children`, "utf8").trim();
      if (kids) out.push(...kids.split(/\s+/).map(Number));
    } catch {
      // Gone between two reads: nothing to add.
    }
  }
  return out;
}

/** Resident memory of a process and its descendants now, bytes. */
export function treeRssBytes(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + rssBytes(p), 0);
}
