import { describe, expect, it } from "vitest";
import { isStreamqcError } from "../../src/errors.js";
import { expectedIncident, parseDefectSpec } from "../../src/gen/defect-spec.js";

function specError(spec: string): string {
  try {
    parseDefectSpec(spec);
  } catch (err) {
    if (isStreamqcError(err, "SQM_ERR_DEFECT_SPEC")) return err.message;
    throw err;
  }
  throw new Error(`"${spec}" was accepted`);
}

describe("parseDefectSpec", () => {
  it("parses the documented example, decimals included", () => {
    expect(parseDefectSpec("freeze@10:4,black@20:3,silence@30:3,clipping@40.5:2.25")).toEqual([
      { type: "freeze", start: 10, duration: 4 },
      { type: "black", start: 20, duration: 3 },
      { type: "silence", start: 30, duration: 3 },
      { type: "clipping", start: 40.5, duration: 2.25 },
    ]);
  });

  it("accepts the near-miss kinds and spaces around items", () => {
    expect(
      parseDefectSpec(" dark@1:3 , quiet@1:4,logo-black@5:2,freeze-noisy@8:3").map((d) => d.type),
    ).toEqual(["dark", "quiet", "logo-black", "freeze-noisy"]);
  });

  it("lets a video and an audio defect overlap", () => {
    expect(parseDefectSpec("freeze@10:4,silence@11:3")).toHaveLength(2);
  });

  it("names the bad item", () => {
    expect(specError("freeze@10:4,blak@20:3")).toMatch(/"blak@20:3".*unknown type "blak"/);
    expect(specError("freeze@10")).toMatch(/"freeze@10" is not of the form/);
    expect(specError("freeze@-1:3")).toMatch(/"freeze@-1:3"/);
    expect(specError("black@1:0")).toMatch(/"black@1:0": duration must be greater than 0/);
    expect(specError("freeze@a:3")).toMatch(/"freeze@a:3"/);
    expect(specError(",")).toMatch(/no items/);
  });

  it("refuses two defects that overlap on the same medium", () => {
    expect(specError("freeze@10:4,black@12:3")).toMatch(
      /"black@12:3" overlaps "freeze@10:4" on the same video/,
    );
    expect(specError("silence@1:3,quiet@2:2")).toMatch(/overlaps .* audio/);
  });

  it("expects an incident only from defects as long as the detector's default minimum", () => {
    expect(expectedIncident("freeze", 2)).toBe("video.freeze");
    expect(expectedIncident("freeze", 1.2)).toBeNull();
    expect(expectedIncident("silence", 1.99)).toBeNull();
    expect(expectedIncident("clipping", 0.3)).toBe("audio.clipping");
    expect(expectedIncident("clipping", 0.2)).toBeNull();
    expect(expectedIncident("dark", 10)).toBeNull();
    expect(expectedIncident("quiet", 10)).toBeNull();
  });
});
