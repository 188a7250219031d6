import { describe, expect, it } from "vitest";
import { KNOWN_INCIDENT_TYPES } from "../../src/api/metrics.js";
import { DEFAULT_SEVERITY, resolveProfile } from "../../src/config/profile.js";
import { DETECTORS, INCIDENT_TYPES } from "../../src/detect/registry.js";
import { TS_CHECKS } from "../../src/ingest/ts-analyzer.js";

describe("detector registry: the incident types and their default severities", () => {
  it("every detector declares the types it emits, each type by one detector only", () => {
    const seen = new Map<string, string>();
    for (const d of DETECTORS) {
      expect(d.emits.length, d.type).toBeGreaterThan(0);
      for (const e of d.emits) {
        expect(seen.get(e.type), `${e.type} declared twice`).toBeUndefined();
        seen.set(e.type, d.type);
      }
    }
    // The types of DESIGN.md's incident schema, plus audio.true-peak and every TR 101 290 check.
    for (const t of [
      "video.freeze",
      "video.black",
      "video.blockiness",
      "audio.silence",
      "audio.clipping",
      "audio.loudness",
      "audio.true-peak",
      "av.sync",
      "stream.gap",
      "stream.down",
      "hls.stale-playlist",
      ...Object.keys(TS_CHECKS),
    ])
      expect(INCIDENT_TYPES.has(t), t).toBe(true);
  });

  it("derives the metrics' incident-type labels from the registry (audio.true-peak and ts.* were `other`)", () => {
    expect([...KNOWN_INCIDENT_TYPES].sort()).toEqual([...INCIDENT_TYPES.keys()].sort());
  });

  it("derives default severities from the registry; a profile still overrides them", () => {
    for (const [type, severity] of INCIDENT_TYPES) expect(DEFAULT_SEVERITY[type], type).toBe(severity);
    const p = resolveProfile({ severity: { "audio.loudness": "major" } });
    expect(p.severityOf("video.black")).toBe("critical");
    expect(p.severityOf("stream.down")).toBe("critical");
    expect(p.severityOf("audio.loudness")).toBe("major");
    expect(p.severityOf("ts.continuity")).toBe("minor");
    // A type no detector declares falls back to its family, then to minor.
    expect(p.severityOf("hls.something-new")).toBe("minor");
  });
});
