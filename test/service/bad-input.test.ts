/**
 * Malformed API input and malformed configuration give one clear error naming the field, and
 * change nothing: the stream list stays as it was, a bad config creates no data directory.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningService } from "../../src/cli/serve-command.js";
import { runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/media.js";
import { api, QUIET_PROFILE, startInProcess } from "./helpers.js";

interface ErrorBody {
  error: string;
  message: string;
  code?: string;
  details?: { path: string; message: string }[];
}
interface Stream {
  id: string;
  name: string;
  url: string;
  profile: string;
}

describe("malformed API input changes nothing", () => {
  const tmp = tempDir("streamqc-badapi-");
  let svc: RunningService;
  let before: Stream[] = [];
  let existing: Stream;

  beforeAll(async () => {
    svc = await startInProcess({
      dataDir: join(tmp.dir, "data"),
      allowFileInputs: false,
      profiles: { light: QUIET_PROFILE },
      // Never reachable, so the test does not depend on any media.
      streams: [
        { name: "existing", url: "udp://127.0.0.1:9", profile: "default", labels: {}, enabled: false },
      ],
    });
    before = (await api<{ items: Stream[] }>(svc.url, "GET", "/streams")).body.items;
    existing = before[0]!;
  }, 30_000);

  afterAll(async () => {
    await svc?.close();
    tmp.cleanup();
  });

  const streams = async (): Promise<Stream[]> =>
    (await api<{ items: Stream[] }>(svc.url, "GET", "/streams")).body.items;

  const cases: {
    what: string;
    method: string;
    path: () => string;
    body?: unknown;
    raw?: string;
    status: number;
    field?: string;
    message: RegExp;
  }[] = [
    {
      what: "bad JSON",
      method: "POST",
      path: () => "/streams",
      raw: '{"name": "x", "url": ',
      status: 400,
      message: /not valid JSON/,
    },
    {
      what: "a bad name",
      method: "POST",
      path: () => "/streams",
      body: { name: "has spaces", url: "udp://127.0.0.1:5000" },
      status: 400,
      field: "name",
      message: /name/,
    },
    {
      what: "a missing url",
      method: "POST",
      path: () => "/streams",
      body: { name: "new" },
      status: 400,
      field: "url",
      message: /url/,
    },
    {
      what: "an unknown field",
      method: "POST",
      path: () => "/streams",
      body: { name: "new", url: "udp://127.0.0.1:5000", colour: "red" },
      status: 400,
      field: "colour",
      message: /colour: unknown field/,
    },
    {
      what: "labels of the wrong type",
      method: "POST",
      path: () => "/streams",
      body: { name: "new", url: "udp://127.0.0.1:5000", labels: { a: 1 } },
      status: 400,
      field: "labels.a",
      message: /labels\.a/,
    },
    {
      what: "an unknown profile",
      method: "POST",
      path: () => "/streams",
      body: { name: "new", url: "udp://127.0.0.1:5000", profile: "nope" },
      status: 400,
      field: "profile",
      message: /unknown profile "nope"/,
    },
    {
      what: "a file URL when files are not allowed",
      method: "POST",
      path: () => "/streams",
      body: { name: "new", url: "file:///etc/passwd" },
      status: 400,
      field: "url",
      message: /local files is not allowed/,
    },
    {
      what: "a bare path when files are not allowed",
      method: "POST",
      path: () => "/streams",
      body: { name: "new", url: "/etc/passwd" },
      status: 400,
      field: "url",
      message: /local files is not allowed/,
    },
    {
      // Regression: this was stored (201) as a stream that could only fail.
      what: "a UDP URL with no valid port",
      method: "POST",
      path: () => "/streams",
      body: { name: "new", url: "udp://127.0.0.1:notaport" },
      status: 400,
      field: "url",
      message: /url: not a valid URL/,
    },
    {
      what: "a UDP URL that is not IPv4",
      method: "POST",
      path: () => "/streams",
      body: { name: "new", url: "udp://example.com:5000" },
      status: 400,
      field: "url",
      message: /IPv4/,
    },
    {
      what: "a duplicate name",
      method: "POST",
      path: () => "/streams",
      body: { name: "existing", url: "udp://127.0.0.1:5000" },
      status: 409,
      message: /already exists/,
    },
    {
      what: "a PATCH with an unknown profile",
      method: "PATCH",
      path: () => `/streams/${existing.id}`,
      body: { profile: "nope" },
      status: 400,
      field: "profile",
      message: /unknown profile/,
    },
    {
      what: "a PATCH to a file URL",
      method: "PATCH",
      path: () => `/streams/${existing.id}`,
      body: { url: "file:///etc/passwd" },
      status: 400,
      field: "url",
      message: /local files is not allowed/,
    },
    {
      what: "an empty PATCH",
      method: "PATCH",
      path: () => `/streams/${existing.id}`,
      body: {},
      status: 400,
      message: /at least one field/,
    },
    {
      what: "a PATCH of bad JSON",
      method: "PATCH",
      path: () => `/streams/${existing.id}`,
      raw: "{name:",
      status: 400,
      message: /not valid JSON/,
    },
  ];

  for (const c of cases) {
    it(`${c.what}: ${c.status}${c.field ? ` naming ${c.field}` : ""}, streams unchanged`, async () => {
      const res = await api<ErrorBody>(svc.url, c.method, c.path(), c.body, c.raw);
      expect(res.status, JSON.stringify(res.body)).toBe(c.status);
      expect(res.body.message).toMatch(c.message);
      if (c.field) expect(res.body.details?.map((d) => d.path)).toContain(c.field);
      expect(await streams()).toEqual(before);
      expect(svc.service.runner(existing.id)).toBeUndefined();
    });
  }
});

describe("malformed config: exit 2, one line naming the file and the field, nothing created", () => {
  const tmp = tempDir("streamqc-badcfg-");
  afterAll(() => tmp.cleanup());

  const base = (dataDir: string): Record<string, unknown> => ({ dataDir, server: { port: 0 } });
  const cases: { what: string; env?: string; text: (dataDir: string) => string; message: RegExp }[] = [
    { what: "bad JSON", text: () => '{"streams": [', message: /is not valid JSON/ },
    {
      what: "an unknown field",
      text: (d) => JSON.stringify({ ...base(d), colour: "red" }),
      message: /colour/,
    },
    {
      what: "duplicate stream names",
      text: (d) =>
        JSON.stringify({
          ...base(d),
          streams: [
            { name: "a", url: "udp://127.0.0.1:5000" },
            { name: "a", url: "udp://127.0.0.1:5001" },
          ],
        }),
      message: /streams\.1\.name: duplicate stream name "a"/,
    },
    {
      what: "an unknown profile",
      text: (d) =>
        JSON.stringify({
          ...base(d),
          streams: [{ name: "a", url: "udp://127.0.0.1:5000", profile: "nope" }],
        }),
      message: /streams\.0\.profile: unknown profile "nope"/,
    },
    {
      what: "a short token",
      text: (d) => JSON.stringify({ ...base(d), server: { port: 0, token: "short" } }),
      message: /server\.token/,
    },
    {
      what: "an unknown detector in a profile",
      text: (d) => JSON.stringify({ ...base(d), profiles: { x: { detectors: { "video.nope": {} } } } }),
      message: /profiles\.x\.detectors: unknown detector "video\.nope"/,
    },
  ];

  cases.push(
    {
      // Regression: alert config errors were several lines and named neither the file nor `alerts`.
      what: "a bad alert channel",
      text: (d) =>
        JSON.stringify({
          ...base(d),
          alerts: { channels: [{ kind: "webhook", name: "h", url: "ftp://x", secret: "no" }] },
        }),
      message: /alerts\.channels\.0\.url: .*; alerts\.channels\.0\.secret: must be whsec_/,
    },
    {
      // Regression: a short STREAMQC_API_TOKEN was blamed on the config file.
      what: "a short token from the environment",
      env: "short",
      text: (d) => JSON.stringify(base(d)),
      message: /STREAMQC_API_TOKEN must be at least 16 characters/,
    },
  );

  for (const [i, c] of cases.entries()) {
    it(c.what, async () => {
      const dataDir = join(tmp.dir, `data-${i}`);
      const file = join(tmp.dir, `config-${i}.json`);
      writeFileSync(file, c.text(dataDir));
      const res = await runCli(["serve", "--config", file], { env: { STREAMQC_API_TOKEN: c.env ?? "" } });
      expect(res.code, res.stderr).toBe(2);
      const lines = res.stderr.trim().split("\n");
      expect(lines, res.stderr).toHaveLength(1);
      expect(lines[0]).toContain(file);
      expect(lines[0]).toMatch(c.message);
      expect(lines[0]).toContain("[SQM_ERR_CONFIG]");
      expect(existsSync(dataDir)).toBe(false);
    });
  }
});
