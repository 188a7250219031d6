import { describe, expect, it } from "vitest";
import { redactUrl } from "../../src/api/redact.js";

describe("redactUrl", () => {
  it.each([
    [
      "srt://10.0.0.1:9000?passphrase=hunter2hunter2&latency=200",
      "srt://10.0.0.1:9000?passphrase=***&latency=200",
    ],
    [
      "https://user:s3cret@cdn.example.com/live/index.m3u8",
      "https://user:***@cdn.example.com/live/index.m3u8",
    ],
    ["https://tok123@cdn.example.com/a.m3u8", "https://***@cdn.example.com/a.m3u8"],
    [
      "https://cdn.example.com/a.m3u8?Token=abc&x=1#frag",
      "https://cdn.example.com/a.m3u8?Token=***&x=1#frag",
    ],
    [
      "https://s3.example.com/a.ts?X-Amz-Signature=deadbeef&X-Amz-Expires=60",
      "https://s3.example.com/a.ts?X-Amz-Signature=***&X-Amz-Expires=60",
    ],
    ["rtmp://live.example.com/app/sk_live_123456", "rtmp://live.example.com/app/***"],
    ["rtmps://u:p@live.example.com:443/app/key?x=1", "rtmps://u:***@live.example.com:443/app/***?x=1"],
    ["/api/v1/events?token=abc&lastEventId=x-1", "/api/v1/events?token=***&lastEventId=x-1"],
    ["udp://@239.1.1.1:5000", "udp://@239.1.1.1:5000"],
    ["udp://239.1.1.1:5000?localaddr=10.0.0.2", "udp://239.1.1.1:5000?localaddr=10.0.0.2"],
    ["/srv/media/channel 1.ts", "/srv/media/channel 1.ts"],
    ["rtmp://live.example.com/app", "rtmp://live.example.com/app"],
  ])("%s", (input, expected) => {
    expect(redactUrl(input)).toBe(expected);
  });
});
