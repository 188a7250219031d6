/**
 * The cost curve's table (markdown) and plot (a hand-written SVG, no plotting library): CPU
 * and memory per channel against the number of channels in one service process, so a reader
 * sees whether the cost per channel stays flat as the work grows.
 */

export interface CostPoint {
  readonly mode: "light" | "full";
  readonly channels: number;
  /** Seconds measured. */
  readonly seconds: number;
  /** CPU seconds per channel-second: the service's Node process, its decoders, the publishers (not part of the cost). */
  readonly nodeCpu: number;
  readonly decoderCpu: number;
  readonly publisherCpu: number;
  /** Media seconds the service saw per channel per wall second (1 = kept up with real time). */
  readonly realtime: number;
  readonly promotions: number;
  readonly decoderErrors: number;
  /** MiB: Node's resident set, its V8 heap in use, memory outside the heap. */
  readonly nodeRssMiB: number;
  readonly nodeHeapMiB: number;
  readonly nodeExternalMiB: number;
  /** MiB, all channels: Node's Buffers and typed arrays, and of them the light streams' replay windows. */
  readonly nodeBuffersMiB: number;
  readonly replayMiB: number;
  /** The service's longest event-loop delay during the measurement, ms (a stall). */
  readonly loopDelayMaxMs: number;
  /** Decoder processes at the end, and their mean resident and proportional sets, MiB. */
  readonly decoders: number;
  readonly decoderRssMiB: number;
  readonly decoderPssMiB: number;
}

/** CPU seconds per channel-hour (Node + decoders): what a capacity planner multiplies. */
export function cpuPerChannelHour(p: CostPoint): number {
  return (p.nodeCpu + p.decoderCpu) * 3600;
}

/** MiB per channel, resident sets summed (shared library pages counted in every process). */
export function rssPerChannel(p: CostPoint): number {
  return (p.nodeRssMiB + p.decoders * p.decoderRssMiB) / p.channels;
}

/** MiB per channel, proportional sets (shared pages divided among the processes): the memory really used. */
export function pssPerChannel(p: CostPoint): number {
  return (p.nodeRssMiB + p.decoders * p.decoderPssMiB) / p.channels;
}

export function costTable(points: readonly CostPoint[]): string {
  const f = (x: number, d: number): string => (Number.isFinite(x) ? x.toFixed(d) : "n/a");
  const lines = [
    "| mode | channels | CPU s per channel-hour (Node + decoders) | of which Node | % of a core per channel | channels per core | MiB per channel (PSS) | MiB per channel (RSS) | Node RSS / heap MiB | decoder RSS / PSS MiB each | Node buffers / replay windows MiB per channel | kept real time | longest event-loop delay ms | promotions | publishers, % of a core per channel |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const p of points) {
    const hour = cpuPerChannelHour(p);
    lines.push(
      `| ${p.mode} | ${p.channels} | ${f(hour, 0)} | ${f(p.nodeCpu * 3600, 0)} | ${f(hour / 36, 2)} | ${f(3600 / hour, 0)} | ` +
        `${f(pssPerChannel(p), 1)} | ${f(rssPerChannel(p), 1)} | ${f(p.nodeRssMiB, 0)} / ${f(p.nodeHeapMiB, 0)} | ` +
        `${f(p.decoderRssMiB, 1)} / ${f(p.decoderPssMiB, 1)} | ` +
        `${f(p.nodeBuffersMiB / p.channels, 1)} / ${f(p.replayMiB / p.channels, 1)} | ${f(p.realtime, 3)} | ` +
        `${f(p.loopDelayMaxMs, 0)} | ${p.promotions} | ${f(p.publisherCpu * 100, 2)} |`,
    );
  }
  return lines.join("\n") + "\n";
}

const COLORS: Record<CostPoint["mode"], string> = { light: "#1f77b4", full: "#d62728" };

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A "nice" axis maximum: 1, 2 or 5 times a power of ten, at least `x`. */
function niceMax(x: number): number {
  if (!(x > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 5, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}

interface Panel {
  readonly title: string;
  readonly unit: string;
  readonly value: (p: CostPoint) => number;
}

/** Below this share of real time a point measured a machine that could not keep up, not the cost. */
export const REAL_TIME_PLOTTED = 0.9;

/**
 * Two panels side by side (CPU per channel-hour, MiB per channel), channels on a log scale.
 * Points whose streams did not keep real time are left out (and counted in the caption).
 */
export function costSvg(all: readonly CostPoint[], caption: string): string {
  const points = all.filter((p) => p.realtime >= REAL_TIME_PLOTTED);
  const dropped = all.filter((p) => p.realtime < REAL_TIME_PLOTTED);
  if (dropped.length > 0) {
    caption += `; not plotted (below ${REAL_TIME_PLOTTED} of real time): ${dropped.map((p) => `${p.mode} x ${p.channels}`).join(", ")}`;
  }
  const W = 900;
  // The caption goes below the legend, one line per "; "-separated part.
  const captionLines = caption.split("; ");
  const H = 376 + 14 * captionLines.length;
  const panels: Panel[] = [
    { title: "CPU seconds per channel-hour (Node + decoders)", unit: "CPU s", value: cpuPerChannelHour },
    { title: "Memory per channel (Node RSS + decoders' PSS)", unit: "MiB", value: pssPerChannel },
  ];
  const counts = [...new Set(points.map((p) => p.channels))].sort((a, b) => a - b);
  const lo = Math.log2(Math.max(1, counts[0] ?? 1));
  const hi = Math.max(lo + 1, Math.log2(counts[counts.length - 1] ?? 2));
  const modes = (["light", "full"] as const).filter((m) => points.some((p) => p.mode === m));
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
  ];
  panels.forEach((panel, i) => {
    const x0 = 70 + i * 450;
    const y0 = 40;
    const pw = 340;
    const ph = 260;
    const vmax = niceMax(Math.max(...points.map(panel.value).filter(Number.isFinite), 0) * 1.1);
    const sx = (n: number): number => x0 + ((Math.log2(n) - lo) / (hi - lo)) * pw;
    const sy = (v: number): number => y0 + ph - (v / vmax) * ph;
    out.push(
      `<text x="${x0 + pw / 2}" y="${y0 - 16}" text-anchor="middle" font-weight="bold">${esc(panel.title)}</text>`,
    );
    out.push(`<rect x="${x0}" y="${y0}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
    for (let k = 0; k <= 4; k++) {
      const v = (vmax * k) / 4;
      const y = sy(v);
      out.push(`<line x1="${x0}" x2="${x0 + pw}" y1="${y}" y2="${y}" stroke="#eee"/>`);
      out.push(`<text x="${x0 - 6}" y="${y + 4}" text-anchor="end">${v % 1 === 0 ? v : v.toFixed(1)}</text>`);
    }
    for (const n of counts) {
      out.push(`<text x="${sx(n)}" y="${y0 + ph + 16}" text-anchor="middle">${n}</text>`);
    }
    out.push(
      `<text x="${x0 + pw / 2}" y="${y0 + ph + 34}" text-anchor="middle">channels in one service process (log scale)</text>`,
    );
    out.push(
      `<text x="${x0 - 48}" y="${y0 + ph / 2}" text-anchor="middle" transform="rotate(-90 ${x0 - 48} ${y0 + ph / 2})">${esc(panel.unit)} per channel</text>`,
    );
    for (const mode of modes) {
      const ps = points.filter((p) => p.mode === mode && Number.isFinite(panel.value(p)));
      const path = ps.map(
        (p, j) => `${j === 0 ? "M" : "L"}${sx(p.channels).toFixed(1)},${sy(panel.value(p)).toFixed(1)}`,
      );
      if (path.length > 1)
        out.push(`<path d="${path.join(" ")}" fill="none" stroke="${COLORS[mode]}" stroke-width="2"/>`);
      for (const p of ps) {
        const x = sx(p.channels);
        const y = sy(panel.value(p));
        out.push(`<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="3.5" fill="${COLORS[mode]}"/>`);
        // Full mode labelled below its points, light above: equal values stay readable.
        out.push(
          `<text x="${x.toFixed(1)}" y="${(mode === "full" ? y + 17 : y - 8).toFixed(1)}" text-anchor="middle" fill="${COLORS[mode]}">${panel.value(p).toFixed(0)}</text>`,
        );
      }
    }
  });
  modes.forEach((mode, j) => {
    const x = 70 + j * 90;
    out.push(`<line x1="${x}" x2="${x + 20}" y1="364" y2="364" stroke="${COLORS[mode]}" stroke-width="2"/>`);
    out.push(`<text x="${x + 26}" y="368">${mode}</text>`);
  });
  captionLines.forEach((line, k) => {
    out.push(`<text x="70" y="${386 + 14 * k}" fill="#555" font-size="11">${esc(line)}</text>`);
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
