import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "../../src/errors.js";

describe("docs/errors.md", () => {
  it("documents every error code, with cause and fix, and no code that does not exist", () => {
    const doc = readFileSync(resolve(import.meta.dirname, "../../docs/errors.md"), "utf8");
    const documented = [...doc.matchAll(/^## (SQM_ERR_[A-Z_]+)$/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(ERROR_CODES).sort());
    for (const code of documented) {
      const section = doc.split(`## ${code}\n`)[1]!.split("\n## ")[0]!;
      expect(section, code).toMatch(/^Cause: /m);
      expect(section, code).toMatch(/^Fix: /m);
      // The HTTP status the API answers is documented where the code is, and agrees with it.
      const status = /^HTTP status: (\d{3})$/m.exec(section)?.[1];
      expect(Number(status), code).toBe(ERROR_CODES[code as keyof typeof ERROR_CODES].status);
    }
  });
});
