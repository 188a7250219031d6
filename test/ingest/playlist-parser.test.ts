import { describe, expect, it } from "vitest";
import { isStreamqcError } from "../../src/errors.js";
import { PlaylistParseError, parsePlaylist } from "../../src/ingest/hls/playlist-parser.js";

const MASTER = `#EXTM3U
#EXT-X-VERSION:6
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="English",DEFAULT=YES,URI="audio/en.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=1280000,AVERAGE-BANDWIDTH=1000000,CODECS="avc1.4d401f,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=25.000,AUDIO="aud"
low/index.m3u8
# a comment
#EXT-X-STREAM-INF:BANDWIDTH=5000000,RESOLUTION=1920x1080,NAME="hd"
hd/index.m3u8
`;

const MEDIA = `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:6
#EXT-X-MEDIA-SEQUENCE:1000
#EXT-X-DISCONTINUITY-SEQUENCE:4
#EXT-X-PLAYLIST-TYPE:EVENT
#EXT-X-MAP:URI="init.mp4"
#EXTINF:6.000,first
s1000.m4s
#EXT-X-DISCONTINUITY
#EXT-X-KEY:METHOD=AES-128,URI="https://k.example/key",IV=0x0123
#EXTINF:5.5,
s1001.m4s
#EXT-X-KEY:METHOD=NONE
#EXT-X-UNKNOWN-TAG:whatever
#EXTINF:4
s1002.m4s
#EXT-X-ENDLIST
`;

function parseError(text: string): PlaylistParseError {
  try {
    parsePlaylist(text);
  } catch (err) {
    if (err instanceof PlaylistParseError) return err;
    throw err;
  }
  throw new Error("no parse error");
}

describe("parsePlaylist", () => {
  it("parses a master playlist with quoted attributes holding commas", () => {
    const p = parsePlaylist(MASTER);
    expect(p.kind).toBe("master");
    if (p.kind !== "master") return;
    expect(p.version).toBe(6);
    expect(p.variants).toHaveLength(2);
    expect(p.variants[0]).toMatchObject({
      uri: "low/index.m3u8",
      bandwidth: 1280000,
      averageBandwidth: 1000000,
      codecs: "avc1.4d401f,mp4a.40.2",
      resolution: { width: 640, height: 360 },
      frameRate: 25,
      line: 4,
    });
    expect(p.variants[1]!.attributes["NAME"]).toBe("hd");
    expect(p.media[0]).toMatchObject({ TYPE: "AUDIO", "GROUP-ID": "aud", URI: "audio/en.m3u8" });
  });

  it("parses a media playlist: sequence numbers, discontinuities, keys, map, end list", () => {
    const p = parsePlaylist(MEDIA);
    expect(p.kind).toBe("media");
    if (p.kind !== "media") return;
    expect(p).toMatchObject({
      version: 7,
      targetDuration: 6,
      mediaSequence: 1000,
      discontinuitySequence: 4,
      playlistType: "EVENT",
      endList: true,
    });
    expect(p.segments.map((s) => [s.sequence, s.uri, s.duration])).toEqual([
      [1000, "s1000.m4s", 6],
      [1001, "s1001.m4s", 5.5],
      [1002, "s1002.m4s", 4],
    ]);
    expect(p.segments[0]!.title).toBe("first");
    expect(p.segments[0]!.map).toEqual({ uri: "init.mp4" });
    expect(p.segments[1]).toMatchObject({ discontinuity: true, discontinuitySequence: 5 });
    expect(p.segments[1]!.key).toEqual({ method: "AES-128", uri: "https://k.example/key", iv: "0x0123" });
    expect(p.segments[2]!.key).toBeNull();
    expect(p.segments[2]!.discontinuity).toBe(false);
  });

  it.each([
    ["no EXTM3U", "#EXT-X-TARGETDURATION:2\n", 1, /not #EXTM3U/],
    [
      "bad EXTINF",
      "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\na.ts\n#EXTINF:abc,\nb.ts\n",
      5,
      /EXTINF duration/,
    ],
    ["URI without EXTINF", "#EXTM3U\n#EXT-X-TARGETDURATION:2\na.ts\n", 3, /without a preceding EXTINF/],
    ["EXTINF at the end", "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n", 3, /without a URI/],
    ["no target duration", "#EXTM3U\n#EXTINF:2,\na.ts\n", 3, /without EXT-X-TARGETDURATION/],
    ["bad target duration", "#EXTM3U\n#EXT-X-TARGETDURATION:two\n", 2, /decimal integer/],
    [
      "master and media mixed",
      "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n",
      3,
      /in a media/,
    ],
    ["STREAM-INF without BANDWIDTH", "#EXTM3U\n#EXT-X-STREAM-INF:RESOLUTION=1x1\nv.m3u8\n", 2, /BANDWIDTH/],
    ["KEY without URI", "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-KEY:METHOD=AES-128\n", 3, /without URI/],
    ["bad attribute list", '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS="avc1\nv.m3u8\n', 2, /attribute/],
    ["bad playlist type", "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:LIVE\n", 3, /EVENT or VOD/],
  ])("%s: typed error at the right line", (_name, text, line, re) => {
    const err = parseError(text);
    expect(err.line).toBe(line);
    expect(err.message).toMatch(re);
    expect(err.message).toContain(`line ${line}`);
    expect(isStreamqcError(err, "SQM_ERR_PLAYLIST_PARSE")).toBe(true);
  });
});
