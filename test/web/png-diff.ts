/**
 * A tolerant visual comparison: pixelmatch (anti-aliasing ignored, a colour threshold) over
 * two PNGs of the same size, passing while the share of differing pixels stays under a
 * ceiling: fonts and anti-aliasing differ a little between machines, a broken layout differs
 * by far more. The diff image is written beside the baseline for a failing run.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import pixelmatch from "pixelmatch";
import { PNG } from "pngjs";

export interface DiffResult {
  readonly created: boolean;
  readonly ratio: number;
  readonly diffFile: string | null;
}

/** Compares `actual` with the baseline file; writes the baseline when missing or when `update`. */
export function compareWithBaseline(
  actual: Buffer,
  baseline: string,
  update: boolean,
  threshold = 0.2,
): DiffResult {
  if (update || !existsSync(baseline)) {
    mkdirSync(dirname(baseline), { recursive: true });
    writeFileSync(baseline, actual);
    return { created: true, ratio: 0, diffFile: null };
  }
  const a = PNG.sync.read(actual);
  const b = PNG.sync.read(readFileSync(baseline));
  if (a.width !== b.width || a.height !== b.height) return { created: false, ratio: 1, diffFile: null };
  const diff = new PNG({ width: a.width, height: a.height });
  const n = pixelmatch(a.data, b.data, diff.data, a.width, a.height, { threshold, includeAA: false });
  const ratio = n / (a.width * a.height);
  let diffFile: string | null = null;
  if (n > 0) {
    diffFile = `${baseline.replace(/\.png$/, "")}.diff.png`;
    // Diffs go to the temporary directory, not next to the docs.
    diffFile = `${process.env["TMPDIR"] ?? "/tmp"}/${diffFile.split("/").pop()}`;
    writeFileSync(diffFile, PNG.sync.write(diff));
  }
  return { created: false, ratio, diffFile };
}
