/** Display formats shared by the pages. */
import type { LiveState } from "../api/wire-types.js";

export function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** `HH:MM:SS` of a time, in UTC or local. */
export function clockText(ms: number, utc: boolean): string {
  const d = new Date(ms);
  return utc
    ? `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`
    : `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** `2026-11-30 06:45:12` local. */
export function dateTimeText(iso: string | null | undefined): string {
  if (iso === null || iso === undefined) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${clockText(d.getTime(), false)}`;
}

/** `4 s`, `3 min 05 s`, `2 h 04 min`. */
export function durationText(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "";
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${two(Math.floor(seconds % 60))} s`;
  return `${Math.floor(m / 60)} h ${two(m % 60)} min`;
}

export function dbText(v: number | null | undefined, unit: string): string {
  return v === null || v === undefined || !Number.isFinite(v) ? "—" : `${v.toFixed(1)} ${unit}`;
}

/** Where the service warns that a stream's monitoring has fallen behind (src/service/behind-live.ts). */
export const BEHIND_LIVE_WARN_SECONDS = 10;

/** How far a live stream's monitoring is behind the signal, in words. */
export function behindLiveText(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 2) return "keeping up";
  const behind = `${Math.round(seconds)} s behind`;
  return seconds >= BEHIND_LIVE_WARN_SECONDS
    ? `${behind}: this monitor cannot decode its streams in real time, alarms come late`
    : behind;
}

/**
 * How a stream is decoded now, in words: light (keyframes, and its promotion), or full on
 * reference frames, or every frame (since when, if a detector asked for it: README, decode).
 */
export function decodingText(
  st: Pick<LiveState, "mode" | "promotion" | "decoding"> | null | undefined,
): string {
  if (!st) return "—";
  if (st.mode === "light") {
    const phase = st.promotion?.phase;
    if (phase === "promoted") return "light, promoted: every frame";
    if (phase === "queued") return "light, promotion queued";
    return "light: keyframes";
  }
  const d = st.decoding;
  if (!d) return "—";
  if (d.policy === "refs") return "reference frames";
  const every = d.policy === "exact" ? "every frame, as encoded" : "every frame";
  return d.everyFrameFrom === null
    ? every
    : `${every} since ${durationText(d.everyFrameFrom)} (a detector asked)`;
}
