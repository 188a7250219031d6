/**
 * The HLS playlist as the monitor follows it, the way an HLS monitor shows it: the variants of
 * the master playlist (which one is followed), target duration, media and discontinuity
 * sequence, the live window, how long ago the playlist last loaded and last changed (a live
 * playlist that stops changing is the first sign of a stuck packager), the last segment's
 * age, duration and download time, discontinuities, and the last error.
 */
import type { LiveState } from "../api/wire-types.js";
import { dateTimeText, durationText } from "../util/format.js";

type Playlist = NonNullable<LiveState["hlsPlaylist"]>;

/** A URL without its credentials, for display. */
function safeUrl(u: string): string {
  return u.replace(/\/\/[^@/]*@/, "//");
}

function ago(iso: string | null, now: number): string {
  if (iso === null) return "never";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  return `${durationText(Math.max(0, (now - t) / 1000))} ago`;
}

function bandwidthText(bps: number): string {
  return bps >= 1e6 ? `${(bps / 1e6).toFixed(2)} Mb/s` : `${Math.round(bps / 1e3)} kb/s`;
}

export function HlsPlaylistPanel({ playlist: p, now }: { playlist: Playlist; now: number }) {
  const live = !p.endList && p.playlistType !== "VOD";
  const changeAge = p.lastChangeAt !== null ? (now - Date.parse(p.lastChangeAt)) / 1000 : null;
  // The source calls a live playlist stale after 1.5 target durations without a change.
  const stale = live && p.targetDuration !== null && changeAge !== null && changeAge > 1.5 * p.targetDuration;
  return (
    <div class="hls-playlist" data-hls-playlist="true">
      <table>
        <tbody>
          <tr>
            <th scope="row">Playlist</th>
            <td class="url">{safeUrl(p.url)}</td>
          </tr>
          <tr>
            <th scope="row">Type</th>
            <td>
              {live ? "live" : p.playlistType === "VOD" || p.endList ? "VOD / ended" : "—"}
              {p.playlistType === "EVENT" ? " (EVENT)" : ""}
              {p.version !== null ? `, version ${p.version}` : ""}
            </td>
          </tr>
          <tr>
            <th scope="row">Target duration</th>
            <td data-field="targetDuration">{p.targetDuration !== null ? `${p.targetDuration} s` : "—"}</td>
          </tr>
          <tr>
            <th scope="row">Media sequence</th>
            <td data-field="mediaSequence">{p.mediaSequence ?? "—"}</td>
          </tr>
          <tr>
            <th scope="row">Discontinuity sequence</th>
            <td>{p.discontinuitySequence ?? "—"}</td>
          </tr>
          <tr>
            <th scope="row">Window</th>
            <td>
              {p.segments} segments, {durationText(p.windowSeconds)}
            </td>
          </tr>
          <tr>
            <th scope="row">Last load</th>
            <td>
              {ago(p.lastLoadAt, now)} ({p.loads} loads)
            </td>
          </tr>
          <tr>
            <th scope="row">Last change</th>
            <td class={stale ? "error" : undefined}>
              {ago(p.lastChangeAt, now)}
              {stale ? " — STALE" : ""}
            </td>
          </tr>
          <tr>
            <th scope="row">Last segment</th>
            <td data-field="lastSegment">
              {p.lastSegment === null
                ? "none yet"
                : `#${p.lastSegment.sequence}, ${p.lastSegment.duration.toFixed(3)} s, downloaded in ${p.lastSegment.downloadSeconds.toFixed(2)} s, ${ago(p.lastSegment.at, now)}`}
            </td>
          </tr>
          <tr>
            <th scope="row">Segments received</th>
            <td>
              {p.segmentsDelivered}, {p.discontinuities} discontinuit{p.discontinuities === 1 ? "y" : "ies"}
            </td>
          </tr>
          <tr>
            <th scope="row">Last error</th>
            <td class={p.lastError ? "error" : undefined}>
              {p.lastError ? `${dateTimeText(p.lastError.at)}: ${p.lastError.message}` : "none"}
            </td>
          </tr>
        </tbody>
      </table>
      {p.variants.length > 0 ? (
        <table class="variants">
          <caption>Variants of the master playlist</caption>
          <thead>
            <tr>
              <th scope="col">Followed</th>
              <th scope="col">Bandwidth</th>
              <th scope="col">Resolution</th>
              <th scope="col">Codecs</th>
              <th scope="col">Name</th>
            </tr>
          </thead>
          <tbody>
            {p.variants.map((v) => (
              <tr key={v.uri} class={v.chosen ? "chosen" : undefined}>
                <td>{v.chosen ? "yes" : ""}</td>
                <td>{bandwidthText(v.bandwidth)}</td>
                <td>{v.resolution ?? "—"}</td>
                <td>{v.codecs ?? "—"}</td>
                <td>{v.name ?? "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </div>
  );
}
