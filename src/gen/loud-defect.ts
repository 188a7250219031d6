/**
 * `loud@T:D`: a section `LOUD_GAIN_DB` louder than the programme, as a commercial or a
 * mis-set fader gives it. The programme itself sits at the EBU R128 target (-23 LUFS), so the
 * section measures about -11 LUFS: far outside -23 ± 1 LU, while its peaks stay under full
 * scale (the synthetic programme peaks near -11.5 dBTP), so it is NOT clipping.
 */
import type { Defect } from "./defect-spec.js";

export const LOUD_GAIN_DB = 12;

/** The audio filter for one loud window; half-open [start, end) like the other injectors. */
export function loudFilter(d: Defect): string {
  const end = d.start + d.duration;
  return `volume=volume=${LOUD_GAIN_DB}dB:enable='gte(t,${d.start})*lt(t,${end})'`;
}
