import { describe, expect, it } from "vitest";
import { parseAlertConfig } from "../../src/config/alert-config.js";
import { isStreamqcError } from "../../src/errors.js";

describe("parseAlertConfig", () => {
  it("fills the documented defaults and freezes the result", () => {
    const c = parseAlertConfig({
      channels: [{ kind: "pagerduty", name: "pager", routingKey: "k" }],
      routes: [{ channels: ["pager"] }],
    });
    expect(c.cooldownSeconds).toBe(300);
    expect(c.alertOnEscalation).toBe(true);
    expect(c.routes[0]).toEqual({ channels: ["pager"], labels: {}, minSeverity: "info" });
    expect(c.channels[0]).toMatchObject({
      baseUrl: "https://events.pagerduty.com",
      source: "streamqc",
      timeoutMs: 10_000,
    });
    expect(c.dispatcher).toEqual({
      pollIntervalMs: 5000,
      batchSize: 20,
      leaseMs: 60_000,
      baseDelayMs: 1000,
      maxDelayMs: 300_000,
      maxAttempts: 12,
      maxRetryAfterMs: 3_600_000,
    });
    expect(Object.isFrozen(c.routes[0])).toBe(true);
    expect(parseAlertConfig(undefined)).toMatchObject({ channels: [], routes: [] });
  });

  it("names every problem: unknown channel in a route, duplicate names, bad secret", () => {
    let error: unknown;
    try {
      parseAlertConfig({
        channels: [
          { kind: "webhook", name: "hook", url: "http://127.0.0.1/x", secret: "not-whsec" },
          { kind: "slack", name: "hook", url: "https://hooks.slack.com/services/x" },
        ],
        routes: [{ channels: ["hook", "nope"] }],
      });
    } catch (err) {
      error = err;
    }
    expect(isStreamqcError(error, "SQM_ERR_CONFIG")).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain("channels.0.secret: must be whsec_ followed by base64");
    expect(message).toContain("channels.1.name: channel hook is defined twice");
    expect(message).toContain(
      "routes.0.channels.1: route 0 names channel nope, which is not defined in channels",
    );
  });
});
