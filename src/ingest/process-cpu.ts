/** CPU seconds a process has used so far, from /proc (Linux); null where it cannot be read. */
import { readFileSync } from "node:fs";

/** USER_HZ: 100 on every Linux that Debian ships. */
const TICKS_PER_SECOND = 100;

export function processCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces; fields after it start past the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) / TICKS_PER_SECOND : null;
  } catch {
    return null;
  }
}
