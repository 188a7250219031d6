/**
 * The acknowledge dialog: one incident, all of a stream's, or a selection, with the operator's
 * name (remembered on this browser) and an optional comment. A modal `<dialog>`: focus moves
 * into it, Escape cancels, and focus returns to the button that opened it.
 */
import { signal } from "@preact/signals";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, getOperator, setOperator, Unavailable } from "../api/api-client.js";
import type { Incident } from "../api/wire-types.js";
import type { LiveStore } from "../live/live-store.js";

export interface AckRequest {
  readonly title: string;
  readonly incidents: readonly Incident[];
}

export const ackRequest = signal<AckRequest | null>(null);

export function requestAck(title: string, incidents: readonly Incident[]): void {
  if (incidents.length > 0) ackRequest.value = { title, incidents };
}

export function AckDialog({ store }: { store: LiveStore }) {
  const ref = useRef<HTMLDialogElement>(null);
  const request = ackRequest.value;
  const [operator, setOperatorText] = useState(getOperator());
  const [comment, setComment] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (request && !d.open) {
      setComment("");
      setError(null);
      d.showModal();
    } else if (!request && d.open) d.close();
  }, [request]);

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (!request) return;
    setBusy(true);
    setError(null);
    setOperator(operator.trim());
    try {
      const ids = request.incidents.map((i) => i.id);
      if (ids.length === 1) {
        const updated = await api.ack(ids[0]!, comment, operator);
        if (updated && typeof updated === "object" && "id" in updated) store.mergeIncidents([updated]);
      } else {
        await api.ackMany(ids, comment, operator);
      }
      ackRequest.value = null;
    } catch (err) {
      setError(
        err instanceof Unavailable
          ? "This server cannot store acknowledgements yet (the acknowledge endpoint is missing)."
          : `Not acknowledged: ${(err as Error).message}`,
      );
    } finally {
      setBusy(false);
    }
  };

  const items = request?.incidents ?? [];
  return (
    <dialog
      ref={ref}
      class="ack-dialog"
      aria-labelledby="ack-title"
      onClose={() => (ackRequest.value = null)}
    >
      <form method="dialog" onSubmit={(e) => void submit(e)}>
        <h2 id="ack-title">{request?.title ?? "Acknowledge"}</h2>
        <ul class="ack-list">
          {items.slice(0, 6).map((i) => (
            <li key={i.id}>
              <span class={`badge sev-${i.severity}`}>{i.severity.toUpperCase()}</span> {i.stream} · {i.type}
            </li>
          ))}
          {items.length > 6 ? <li>and {items.length - 6} more</li> : null}
        </ul>
        <label>
          Your name
          <input
            name="operator"
            value={operator}
            autoComplete="name"
            maxLength={64}
            onInput={(e) => setOperatorText(e.currentTarget.value)}
          />
        </label>
        <label>
          Comment (optional)
          <textarea
            name="comment"
            rows={3}
            maxLength={1000}
            value={comment}
            onInput={(e) => setComment(e.currentTarget.value)}
          />
        </label>
        {error !== null ? (
          <p class="error" role="alert">
            {error}
          </p>
        ) : null}
        <div class="dialog-actions">
          <button type="submit" class="primary" disabled={busy}>
            {items.length === 1 ? "Acknowledge incident" : `Acknowledge ${items.length} incidents`}
          </button>
          <button type="button" onClick={() => (ackRequest.value = null)}>
            Cancel
          </button>
        </div>
      </form>
    </dialog>
  );
}
