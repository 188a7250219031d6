/**
 * How a detector's state travels between two short-lived function invocations in the staged
 * design: as bytes. A detector is a class with state and no I/O (DESIGN.md); its state is its
 * own fields. `captureDetector` walks them (typed arrays, numbers, maps, plain objects and
 * nested class instances such as the loudness meter) into a tree that `v8.serialize` writes;
 * `restoreDetector` writes that tree back into a freshly created detector of the same type,
 * made with the same options and a sink of the new invocation.
 *
 * What is not state is left out and comes from the fresh detector: functions (the sink, a
 * meter's step callback) and frozen objects (the validated options, recreated from the
 * profile). Anything the walk cannot carry faithfully (a class instance inside a map or an
 * array, a symbol) throws: a snapshot that silently loses state would make the two designs
 * disagree for a reason that is not the architecture.
 *
 * The detectors themselves are not changed: the staged design runs the same code.
 */
import { deserialize, serialize } from "node:v8";
import type { Detector } from "../../detect/detector.js";

const CLASS = "__class";
/** A plain object walked field by field, because it may hold class instances (a rule's run). */
const PLAIN = "__plain";

interface ClassRecord {
  readonly [CLASS]: string;
  readonly fields: Record<string, unknown>;
}

function isClassRecord(v: unknown): v is ClassRecord {
  return typeof v === "object" && v !== null && CLASS in v;
}

interface PlainRecord {
  readonly [PLAIN]: true;
  readonly fields: Record<string, unknown>;
}

function isPlainRecord(v: unknown): v is PlainRecord {
  return typeof v === "object" && v !== null && PLAIN in v;
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** A value `v8.serialize` copies faithfully by structure. */
function isStructural(v: object): boolean {
  if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) return true;
  if (v instanceof Map || v instanceof Set || v instanceof Date || v instanceof RegExp) return true;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null || Array.isArray(v);
}

/** Throws unless everything inside `v` is structural (no class instance, no function). */
function checkStructural(v: unknown, path: string): void {
  if (typeof v === "function" || typeof v === "symbol")
    throw new Error(`detector state ${path}: a ${typeof v}`);
  if (typeof v !== "object" || v === null || ArrayBuffer.isView(v) || v instanceof ArrayBuffer) return;
  if (!isStructural(v)) {
    throw new Error(`detector state ${path}: a ${v.constructor.name} inside a container cannot be carried`);
  }
  if (v instanceof Map) {
    for (const [k, x] of v) {
      checkStructural(k, `${path}.key`);
      checkStructural(x, `${path}[${String(k)}]`);
    }
  } else if (v instanceof Set) {
    for (const x of v) checkStructural(x, `${path}{}`);
  } else if (!(v instanceof Date) && !(v instanceof RegExp)) {
    for (const [k, x] of Object.entries(v)) checkStructural(x, `${path}.${k}`);
  }
}

function captureObject(obj: object, path: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(obj) as [string, unknown][]) {
    if (typeof v === "function") continue;
    if (typeof v === "object" && v !== null) {
      // Frozen: validated options, recreated from the profile by the fresh detector.
      if (Object.isFrozen(v)) continue;
      if (!isStructural(v)) {
        out[key] = { [CLASS]: v.constructor.name, fields: captureObject(v, `${path}.${key}`) };
        continue;
      }
      if (isPlainObject(v)) {
        out[key] = { [PLAIN]: true, fields: captureObject(v, `${path}.${key}`) };
        continue;
      }
    }
    checkStructural(v, `${path}.${key}`);
    out[key] = v;
  }
  return out;
}

function restoreObject(target: Record<string, unknown>, fields: Record<string, unknown>, path: string): void {
  for (const [key, v] of Object.entries(fields)) {
    if (isClassRecord(v)) {
      const t = target[key];
      if (typeof t !== "object" || t === null || t.constructor.name !== v[CLASS]) {
        throw new Error(
          `detector state ${path}.${key}: the fresh detector has no ${v[CLASS]} to restore into`,
        );
      }
      restoreObject(t as Record<string, unknown>, v.fields, `${path}.${key}`);
    } else if (isPlainRecord(v)) {
      const t = target[key];
      const into: Record<string, unknown> =
        typeof t === "object" && t !== null && !Object.isFrozen(t) ? (t as Record<string, unknown>) : {};
      restoreObject(into, v.fields, `${path}.${key}`);
      target[key] = into;
    } else {
      target[key] = v;
    }
  }
}

/**
 * Some detectors make a nested part lazily on their first input (the loudness detector makes
 * its meter, with a callback into itself, on the first audio block). Restoring into a fresh
 * detector first lets it make that part the way it always does, from the snapshot's facts:
 * an empty block of the recorded format. Every field is then overwritten by the restore.
 */
const PRIMERS: Readonly<Record<string, (d: Detector, fields: Record<string, unknown>) => void>> = {
  "audio.loudness": (d, fields) => {
    const meter = fields["meter"];
    if (!isClassRecord(meter)) return;
    const { sampleRate, channels } = meter.fields;
    if (typeof sampleRate !== "number" || typeof channels !== "number") return;
    d.pushAudio?.({ pts: 0, sampleRate, channels, frames: 0, samples: new Float32Array(0) });
  },
};

/** The detector's state as bytes (a v8 serialization of its fields). */
export function captureDetector(detector: Detector): Uint8Array {
  return serialize(captureObject(detector, detector.type));
}

/** Writes a captured state into a fresh detector of the same type. */
export function restoreDetector(detector: Detector, bytes: Uint8Array): void {
  const fields = deserialize(bytes) as Record<string, unknown>;
  PRIMERS[detector.type]?.(detector, fields);
  restoreObject(detector as unknown as Record<string, unknown>, fields, detector.type);
}
