import { describe, expect, it } from "vitest";
import { levelNotes, type LevelsItem } from "../../src/fleet/pg-event-bus.js";

const item = (i: number): LevelsItem => ({
  streamId: `stream-${String(i).padStart(4, "0")}`,
  levels: { peakDbfs: [-12.3, -13.4, -20, -20, -30, -30], rmsDbfs: [-25.1, -26.2, -33, -33, -40, -40] },
  loudness: {
    momentary: -22.9,
    shortTerm: -23.1,
    integrated: -23,
    range: 7.2,
    truePeak: -3.4,
    target: -23,
    truePeakLimit: -1,
  } as LevelsItem["loudness"],
  thumbnailPts: 1234.56 + i,
});

describe("levelNotes (one levels note per worker per second, split for NOTIFY)", () => {
  it("sends every stream once, in notes that fit NOTIFY's 8000-byte payload", () => {
    const items = Array.from({ length: 250 }, (_, i) => item(i));
    const notes = levelNotes("w-1", items);
    expect(notes.length).toBeGreaterThan(1);
    for (const n of notes) expect(JSON.stringify(n).length).toBeLessThan(8000);
    const sent = notes.flatMap((n) => (n.type === "stream.levels" ? n.items.map((i) => i.streamId) : []));
    expect(sent).toEqual(items.map((i) => i.streamId));
  });

  it("sends nothing for no streams and one note for a few", () => {
    expect(levelNotes("w-1", [])).toEqual([]);
    expect(levelNotes("w-1", [item(1), item(2)])).toHaveLength(1);
  });
});
