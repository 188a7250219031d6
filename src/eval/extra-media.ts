/**
 * Real recordings beyond Big Buck Bunny, fetched from Debian's packages by
 * scripts/real-media.sh into `.media/` (never committed): a real camera with no sound of its
 * own (OpenCV's vtest.avi, 768x576 at 10 fps, 79.5 s of people walking), real music (ASC's
 * frontiers.mp3, 7 min, GPL-2+) and a film trailer with its own AC-3 mix of dialogue, music and
 * effects (OpenCV's Megamind.avi, 11 s). The eval's `camera` clips put the music under the
 * camera; the false-alarm run loops both. Also, when fetched, animation with its own sound
 * effects and music (Planet Blupi's 14 cut-scenes joined, 127 s, blupi.mkv), which the
 * false-alarm run loops too: added after its dance under flashing lights on a steady beat
 * opened an av.sync incident in sync (DETECTORS.md).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";

export interface ExtraMedia {
  readonly camera: string;
  readonly music: string;
  readonly trailer: string;
  /** Planet Blupi's cut-scenes, or null when not fetched (an older .media/). */
  readonly animation: string | null;
}

export const EXTRA_MEDIA_DIR = ".media";
export const EXTRA_MEDIA_HINT = "run scripts/real-media.sh to fetch them from Debian's packages";

/** The extra recordings under `root`, or null when any is missing. */
export function findExtraMedia(root: string): ExtraMedia | null {
  const dir = join(root, EXTRA_MEDIA_DIR);
  const animation = join(dir, "blupi.mkv");
  const media: ExtraMedia = {
    camera: join(dir, "vtest.avi"),
    music: join(dir, "frontiers.mp3"),
    trailer: join(dir, "Megamind.avi"),
    animation: existsSync(animation) ? animation : null,
  };
  return [media.camera, media.music, media.trailer].every((p) => existsSync(p)) ? media : null;
}
