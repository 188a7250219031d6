/**
 * RFC 8216 (HLS) playlist parser: master and media playlists, the tags a monitor needs.
 * Unknown tags are ignored, as RFC 8216 section 4.1 requires of clients; what breaks the
 * format (no EXTM3U, EXTINF without URI, missing required attributes, master and media
 * tags mixed) throws a PlaylistParseError carrying the 1-based line number.
 */
import { StreamqcError } from "../../errors.js";

export class PlaylistParseError extends StreamqcError {
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super("SQM_ERR_PLAYLIST_PARSE", `playlist line ${line}: ${reason}`);
  }
}

export interface KeyInfo {
  /** NONE, AES-128, SAMPLE-AES (or whatever the playlist says). */
  readonly method: string;
  readonly uri?: string;
  readonly iv?: string;
  readonly keyFormat?: string;
}

export interface MapInfo {
  readonly uri: string;
  readonly byteRange?: string;
}

export interface Segment {
  readonly uri: string;
  /** EXTINF duration, seconds. */
  readonly duration: number;
  readonly title: string;
  /** Media sequence number (RFC 8216 6.3.2). */
  readonly sequence: number;
  /** EXT-X-DISCONTINUITY before this segment. */
  readonly discontinuity: boolean;
  readonly discontinuitySequence: number;
  readonly key: KeyInfo | null;
  readonly map: MapInfo | null;
  readonly byteRange?: string;
  readonly programDateTime?: string;
  /** Line of the URI. */
  readonly line: number;
}

export interface MediaPlaylist {
  readonly kind: "media";
  readonly version: number;
  readonly targetDuration: number;
  readonly mediaSequence: number;
  readonly discontinuitySequence: number;
  readonly playlistType: "EVENT" | "VOD" | null;
  readonly endList: boolean;
  readonly segments: readonly Segment[];
}

export interface Variant {
  readonly uri: string;
  readonly bandwidth: number;
  readonly averageBandwidth?: number;
  readonly codecs?: string;
  readonly resolution?: { readonly width: number; readonly height: number };
  readonly frameRate?: number;
  /** Every attribute of EXT-X-STREAM-INF, unquoted. */
  readonly attributes: Readonly<Record<string, string>>;
  readonly line: number;
}

export interface MasterPlaylist {
  readonly kind: "master";
  readonly version: number;
  readonly variants: readonly Variant[];
  /** EXT-X-MEDIA renditions, attributes unquoted. */
  readonly media: readonly Readonly<Record<string, string>>[];
}

export type Playlist = MasterPlaylist | MediaPlaylist;

const MEDIA_TAGS = new Set([
  "EXT-X-TARGETDURATION",
  "EXT-X-MEDIA-SEQUENCE",
  "EXT-X-DISCONTINUITY-SEQUENCE",
  "EXTINF",
  "EXT-X-ENDLIST",
  "EXT-X-PLAYLIST-TYPE",
  "EXT-X-DISCONTINUITY",
  "EXT-X-KEY",
  "EXT-X-MAP",
  "EXT-X-BYTERANGE",
  "EXT-X-PROGRAM-DATE-TIME",
  "EXT-X-I-FRAMES-ONLY",
]);
const MASTER_TAGS = new Set([
  "EXT-X-STREAM-INF",
  "EXT-X-MEDIA",
  "EXT-X-I-FRAME-STREAM-INF",
  "EXT-X-SESSION-DATA",
]);

/** Parses an attribute list (RFC 8216 4.2): quoted strings keep commas; quotes are removed. */
export function parseAttributes(text: string, line: number): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /\s*([A-Z0-9-]+)=("[^"\r\n]*"|[^",]*)\s*(,|$)/y;
  let pos = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m || m[0].length === 0)
      throw new PlaylistParseError(line, `bad attribute list at "${text.slice(pos)}"`);
    const value = m[2]!;
    out[m[1]!] = value.startsWith('"') ? value.slice(1, -1) : value;
    pos = re.lastIndex;
  }
  return out;
}

function decimalInteger(value: string, tag: string, line: number): number {
  if (!/^\d{1,20}$/.test(value.trim()))
    throw new PlaylistParseError(line, `${tag} needs a decimal integer, got "${value}"`);
  return Number(value.trim());
}

export function parsePlaylist(text: string): Playlist {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  if (lines[0]?.trim() !== "#EXTM3U") throw new PlaylistParseError(1, "first line is not #EXTM3U");
  let kind: "master" | "media" | null = null;
  let version = 1;
  let targetDuration: number | null = null;
  let mediaSequence = 0;
  let discontinuitySequence = 0;
  let playlistType: "EVENT" | "VOD" | null = null;
  let endList = false;
  const segments: Segment[] = [];
  const variants: Variant[] = [];
  const media: Record<string, string>[] = [];

  let pendingInf: { duration: number; title: string; line: number } | null = null;
  let pendingStreamInf: { attrs: Record<string, string>; line: number } | null = null;
  let discontinuity = false;
  let discSeq = 0;
  let key: KeyInfo | null = null;
  let map: MapInfo | null = null;
  let byteRange: string | undefined;
  let pdt: string | undefined;
  let seq = 0;
  let sawSegment = false;

  const setKind = (k: "master" | "media", line: number, tag: string): void => {
    if (kind && kind !== k) throw new PlaylistParseError(line, `${tag} in a ${kind} playlist`);
    kind = k;
  };

  for (let i = 1; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i]!.trim();
    if (raw === "") continue;
    if (!raw.startsWith("#")) {
      if (pendingStreamInf) {
        variants.push(makeVariant(raw, pendingStreamInf.attrs, pendingStreamInf.line));
        pendingStreamInf = null;
        continue;
      }
      if (!pendingInf)
        throw new PlaylistParseError(lineNo, `URI "${raw}" without a preceding EXTINF or EXT-X-STREAM-INF`);
      segments.push({
        uri: raw,
        duration: pendingInf.duration,
        title: pendingInf.title,
        sequence: seq++,
        discontinuity,
        discontinuitySequence: discSeq,
        key,
        map,
        ...(byteRange !== undefined ? { byteRange } : {}),
        ...(pdt !== undefined ? { programDateTime: pdt } : {}),
        line: lineNo,
      });
      pendingInf = null;
      discontinuity = false;
      byteRange = undefined;
      pdt = undefined;
      continue;
    }
    if (!raw.startsWith("#EXT")) continue; // a comment
    const colon = raw.indexOf(":");
    const tag = colon < 0 ? raw.slice(1) : raw.slice(1, colon);
    const value = colon < 0 ? "" : raw.slice(colon + 1);
    if (MEDIA_TAGS.has(tag)) setKind("media", lineNo, tag);
    else if (MASTER_TAGS.has(tag)) setKind("master", lineNo, tag);
    if (pendingInf && tag === "EXTINF")
      throw new PlaylistParseError(lineNo, "EXTINF follows EXTINF without a URI");
    if (pendingStreamInf && tag === "EXT-X-STREAM-INF") {
      throw new PlaylistParseError(lineNo, "EXT-X-STREAM-INF follows EXT-X-STREAM-INF without a URI");
    }
    switch (tag) {
      case "EXTM3U":
        throw new PlaylistParseError(lineNo, "EXTM3U repeated");
      case "EXT-X-VERSION":
        version = decimalInteger(value, tag, lineNo);
        break;
      case "EXT-X-TARGETDURATION":
        targetDuration = decimalInteger(value, tag, lineNo);
        break;
      case "EXT-X-MEDIA-SEQUENCE":
        if (sawSegment) throw new PlaylistParseError(lineNo, "EXT-X-MEDIA-SEQUENCE after the first segment");
        mediaSequence = decimalInteger(value, tag, lineNo);
        seq = mediaSequence;
        break;
      case "EXT-X-DISCONTINUITY-SEQUENCE":
        if (sawSegment)
          throw new PlaylistParseError(lineNo, "EXT-X-DISCONTINUITY-SEQUENCE after the first segment");
        discontinuitySequence = decimalInteger(value, tag, lineNo);
        discSeq = discontinuitySequence;
        break;
      case "EXTINF": {
        const comma = value.indexOf(",");
        const d = (comma < 0 ? value : value.slice(0, comma)).trim();
        if (!/^\d+(\.\d+)?$/.test(d))
          throw new PlaylistParseError(lineNo, `EXTINF duration "${d}" is not a number`);
        pendingInf = { duration: Number(d), title: comma < 0 ? "" : value.slice(comma + 1), line: lineNo };
        sawSegment = true;
        break;
      }
      case "EXT-X-ENDLIST":
        endList = true;
        break;
      case "EXT-X-PLAYLIST-TYPE":
        if (value !== "EVENT" && value !== "VOD") {
          throw new PlaylistParseError(lineNo, `EXT-X-PLAYLIST-TYPE must be EVENT or VOD, got "${value}"`);
        }
        playlistType = value;
        break;
      case "EXT-X-DISCONTINUITY":
        discontinuity = true;
        discSeq++;
        break;
      case "EXT-X-KEY": {
        const a = parseAttributes(value, lineNo);
        const method = a["METHOD"];
        if (!method) throw new PlaylistParseError(lineNo, "EXT-X-KEY without METHOD");
        if (method !== "NONE" && !a["URI"])
          throw new PlaylistParseError(lineNo, `EXT-X-KEY METHOD=${method} without URI`);
        key =
          method === "NONE"
            ? null
            : {
                method,
                ...(a["URI"] !== undefined ? { uri: a["URI"] } : {}),
                ...(a["IV"] !== undefined ? { iv: a["IV"] } : {}),
                ...(a["KEYFORMAT"] !== undefined ? { keyFormat: a["KEYFORMAT"] } : {}),
              };
        break;
      }
      case "EXT-X-MAP": {
        const a = parseAttributes(value, lineNo);
        if (!a["URI"]) throw new PlaylistParseError(lineNo, "EXT-X-MAP without URI");
        map = { uri: a["URI"], ...(a["BYTERANGE"] !== undefined ? { byteRange: a["BYTERANGE"] } : {}) };
        break;
      }
      case "EXT-X-BYTERANGE":
        byteRange = value;
        break;
      case "EXT-X-PROGRAM-DATE-TIME":
        pdt = value;
        break;
      case "EXT-X-STREAM-INF":
        pendingStreamInf = { attrs: parseAttributes(value, lineNo), line: lineNo };
        break;
      case "EXT-X-MEDIA":
        media.push(parseAttributes(value, lineNo));
        break;
      default:
        break; // RFC 8216 4.1: unknown tags are ignored.
    }
  }
  const last = lines.length;
  if (pendingInf) throw new PlaylistParseError(pendingInf.line, "EXTINF without a URI before the end");
  if (pendingStreamInf)
    throw new PlaylistParseError(pendingStreamInf.line, "EXT-X-STREAM-INF without a URI before the end");
  if (kind === "master") return { kind, version, variants, media };
  if (targetDuration === null) {
    throw new PlaylistParseError(segments[0]?.line ?? last, "media playlist without EXT-X-TARGETDURATION");
  }
  return {
    kind: "media",
    version,
    targetDuration,
    mediaSequence,
    discontinuitySequence,
    playlistType,
    endList,
    segments,
  };
}

function makeVariant(uri: string, a: Record<string, string>, line: number): Variant {
  const bw = a["BANDWIDTH"];
  if (bw === undefined || !/^\d+$/.test(bw))
    throw new PlaylistParseError(line, "EXT-X-STREAM-INF without a valid BANDWIDTH");
  const res = a["RESOLUTION"] ? /^(\d+)x(\d+)$/.exec(a["RESOLUTION"]) : null;
  if (a["RESOLUTION"] && !res) throw new PlaylistParseError(line, `bad RESOLUTION "${a["RESOLUTION"]}"`);
  return {
    uri,
    bandwidth: Number(bw),
    ...(a["AVERAGE-BANDWIDTH"] ? { averageBandwidth: Number(a["AVERAGE-BANDWIDTH"]) } : {}),
    ...(a["CODECS"] ? { codecs: a["CODECS"] } : {}),
    ...(res ? { resolution: { width: Number(res[1]), height: Number(res[2]) } } : {}),
    ...(a["FRAME-RATE"] ? { frameRate: Number(a["FRAME-RATE"]) } : {}),
    attributes: a,
    line,
  };
}
