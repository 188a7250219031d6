/**
 * The entry for opening inputs: importing this module registers every source that feeds
 * ffmpeg's stdin (UDP, HLS) with `openSource`.
 */
import "./udp-source.js";
import "./hls-feed-source.js";

export { openSource, type Source, type SourceOptions } from "./source.js";
