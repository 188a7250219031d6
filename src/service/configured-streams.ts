/**
 * The streams and maintenance windows of the configuration file, made true in the store at
 * start (by name: a configured stream is created, or updated when its URL, profile or labels
 * changed). Both the single process and the fleet's API process apply them.
 */
import type { Store } from "../store/store.js";

export interface ConfiguredStream {
  name: string;
  url: string;
  profile: string;
  labels: Record<string, string>;
  enabled: boolean;
}

export interface ConfiguredWindow {
  stream?: string | undefined;
  startsAt: string;
  endsAt: string;
  reason: string;
}

export async function applyConfiguredStreams(
  store: Store,
  configured: readonly ConfiguredStream[],
  maintenance: readonly ConfiguredWindow[],
): Promise<void> {
  for (const c of configured) {
    const existing = await store.getStreamByName(c.name);
    if (!existing) {
      await store.createStream({
        name: c.name,
        url: c.url,
        profile: c.profile,
        labels: c.labels,
        enabled: c.enabled,
      });
    } else if (
      existing.url !== c.url ||
      existing.profile !== c.profile ||
      JSON.stringify(existing.labels) !== JSON.stringify(c.labels)
    ) {
      await store.updateStream(existing.id, { url: c.url, profile: c.profile, labels: c.labels });
    }
  }
  for (const w of maintenance) {
    const streamId = w.stream === undefined ? null : ((await store.getStreamByName(w.stream))?.id ?? null);
    if (w.stream !== undefined && streamId === null) continue;
    const known = await store.listMaintenanceWindows();
    const same = known.some(
      (k) =>
        k.streamId === streamId &&
        Date.parse(k.startsAt) === Date.parse(w.startsAt) &&
        Date.parse(k.endsAt) === Date.parse(w.endsAt),
    );
    if (!same) {
      await store.addMaintenanceWindow({
        streamId,
        startsAt: w.startsAt,
        endsAt: w.endsAt,
        reason: w.reason,
      });
    }
  }
}
