/** An incident as the API shows it: evidence as URLs under the API, and its lifecycle state. */
import { lifecycleOf, type ApiIncident } from "./schemas.js";
import type { StoredIncident } from "../service/service-facade.js";

export function toApiIncident(incident: StoredIncident, prefix: string): ApiIncident {
  return {
    ...incident,
    evidence: incident.evidence.map((e) => ({
      name: e.name,
      contentType: e.contentType,
      size: e.size,
      url: `${prefix}/incidents/${encodeURIComponent(incident.id)}/evidence/${encodeURIComponent(e.name)}`,
    })),
    lifecycle: lifecycleOf(incident),
  };
}
