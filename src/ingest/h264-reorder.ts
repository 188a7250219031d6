/**
 * The light decoder's H.264 and HEVC parameter sets without a reorder delay (HEVC: below,
 * hevcSpsWithoutReorder; its decoder then holds no keyframe back at all).
 *
 * Light mode decodes keyframes only (`-skip_frame nokey`), and keyframes come out in the order
 * they are decoded. Yet FFmpeg's H.264 decoder holds back as many pictures as the SPS's
 * `max_num_reorder_frames` says (2 with x264's B-pyramid; it only ever raises that delay, and
 * `-flags low_delay` does not lower it): decoded 1080p keyframes held in memory, and each
 * keyframe reaching the detectors keyframe intervals late. With the SPS rewritten the delay
 * is one picture instead of two. The one left is the demuxer's: while FFmpeg analyses the
 * stream, its parser marks the stream as having B-frames on seeing one (libavformat's
 * compute_pkt_fields), and the decoder gets that delay. Hiding the first seconds' B-frames
 * from the analysis removed it (PES marked as padding_stream), but the light decoder's copied
 * packets then lacked them, which the gap detector reported as video gaps: not kept
 * (BENCHMARKS.md). Measured on the 60 s 1080p bench clip fed live (BENCHMARKS.md): the light
 * decoder's private memory 30.4 -> 24.1 MiB, its first picture 4.1 -> 1.3 s after the start,
 * keyframes 1.4 s less late (so the replay window that must reach back past that lateness
 * shrinks too).
 *
 * So the light decoder's copy of each SPS gets `max_num_reorder_frames = 0`, rewritten in
 * place: `ue(0)` is shorter than the old value's code, and `max_dec_frame_buffering` (a
 * constraint FFmpeg does not use to hold pictures) takes a larger value whose code fills
 * exactly the bits saved, so the NAL unit keeps its length and the transport stream around it
 * need not change. An SPS that cannot be rewritten so (no bitstream restriction in its VUI,
 * a length change after emulation prevention, a parse failure) is left as it is: the decoder
 * then keeps its delay, as before. The promoted decoder gets the original bytes.
 */

/** Reads the RBSP of a NAL unit bit by bit (exp-Golomb as in H.264 9.1). */
class BitReader {
  pos = 0;
  constructor(private readonly bytes: Uint8Array) {}
  bit(): number {
    const byte = this.bytes[this.pos >> 3];
    if (byte === undefined) throw new RangeError("SPS ended early");
    const b = (byte >> (7 - (this.pos & 7))) & 1;
    this.pos++;
    return b;
  }
  bits(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 2 + this.bit();
    return v;
  }
  ue(): number {
    let zeros = 0;
    while (this.bit() === 0) {
      if (++zeros > 31) throw new RangeError("bad exp-Golomb code in SPS");
    }
    return 2 ** zeros - 1 + this.bits(zeros);
  }
  se(): number {
    const k = this.ue();
    return k % 2 === 1 ? (k + 1) / 2 : -k / 2;
  }
}

/** Bits of `ue(v)`. */
function ueLength(v: number): number {
  return 2 * Math.floor(Math.log2(v + 1)) + 1;
}

/** The EBSP (with emulation-prevention bytes) of a NAL unit to its RBSP. */
function toRbsp(ebsp: Uint8Array): Uint8Array {
  const out = new Uint8Array(ebsp.length);
  let n = 0;
  let zeros = 0;
  for (const b of ebsp) {
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    out[n++] = b;
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return out.subarray(0, n);
}

function toEbsp(rbsp: Uint8Array): Uint8Array {
  const out: number[] = [];
  let zeros = 0;
  for (const b of rbsp) {
    if (zeros >= 2 && b <= 3) {
      out.push(3);
      zeros = 0;
    }
    out.push(b);
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return Uint8Array.from(out);
}

function skipScalingList(r: BitReader, size: number): void {
  let last = 8;
  let next = 8;
  for (let j = 0; j < size; j++) {
    if (next !== 0) next = (last + r.se() + 256) % 256;
    last = next === 0 ? last : next;
  }
}

function skipHrd(r: BitReader): void {
  const count = r.ue() + 1;
  r.bits(8); // bit_rate_scale, cpb_size_scale
  for (let i = 0; i < count; i++) {
    r.ue();
    r.ue();
    r.bit();
  }
  r.bits(20); // four 5-bit lengths and delays
}

/**
 * Where `max_num_reorder_frames` and `max_dec_frame_buffering` start in an SPS's RBSP (bit
 * offsets from the NAL header byte), with their values; null when the SPS has no bitstream
 * restriction. Throws on a malformed SPS.
 */
export function findReorderFields(
  rbsp: Uint8Array,
): { at: number; reorder: number; buffering: number } | null {
  const r = new BitReader(rbsp);
  r.bits(8); // NAL header
  const profile = r.bits(8);
  r.bits(16); // constraint flags, reserved, level_idc
  r.ue(); // seq_parameter_set_id
  if ([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].includes(profile)) {
    const chroma = r.ue();
    if (chroma === 3) r.bit();
    r.ue(); // bit_depth_luma
    r.ue(); // bit_depth_chroma
    r.bit(); // qpprime_y_zero_transform_bypass
    if (r.bit()) {
      for (let i = 0; i < (chroma === 3 ? 12 : 8); i++) if (r.bit()) skipScalingList(r, i < 6 ? 16 : 64);
    }
  }
  r.ue(); // log2_max_frame_num
  const pocType = r.ue();
  if (pocType === 0) r.ue();
  else if (pocType === 1) {
    r.bit();
    r.se();
    r.se();
    const cycle = r.ue();
    for (let i = 0; i < cycle; i++) r.se();
  }
  r.ue(); // max_num_ref_frames
  r.bit(); // gaps_in_frame_num_value_allowed
  r.ue(); // width in MBs
  r.ue(); // height in map units
  if (!r.bit()) r.bit(); // frame_mbs_only, mb_adaptive_frame_field
  r.bit(); // direct_8x8_inference
  if (r.bit()) for (let i = 0; i < 4; i++) r.ue(); // frame cropping
  if (!r.bit()) return null; // no VUI
  if (r.bit() && r.bits(8) === 255) r.bits(32); // aspect ratio (extended SAR)
  if (r.bit()) r.bit(); // overscan
  if (r.bit()) {
    r.bits(4); // video_format, full range
    if (r.bit()) r.bits(24); // colour description
  }
  if (r.bit()) {
    r.ue();
    r.ue();
  }
  if (r.bit()) {
    r.bits(32);
    r.bits(32);
    r.bit();
  }
  const nalHrd = r.bit();
  if (nalHrd) skipHrd(r);
  const vclHrd = r.bit();
  if (vclHrd) skipHrd(r);
  if (nalHrd || vclHrd) r.bit(); // low_delay_hrd
  r.bit(); // pic_struct_present
  if (!r.bit()) return null; // no bitstream restriction
  r.bit();
  for (let i = 0; i < 4; i++) r.ue();
  const at = r.pos;
  const reorder = r.ue();
  const buffering = r.ue();
  return { at, reorder, buffering };
}

/**
 * An SPS NAL unit (EBSP, from its header byte) with `max_num_reorder_frames = 0` and the same
 * length, or null when it is already 0 or cannot be rewritten in place.
 */
export function spsWithoutReorder(ebsp: Uint8Array): Uint8Array | null {
  const rbsp = toRbsp(ebsp);
  let fields;
  try {
    fields = findReorderFields(rbsp);
  } catch {
    return null;
  }
  if (!fields || fields.reorder === 0) return null;
  // The buffering value whose code fills the bits ue(0) leaves: codes are 2k+1 bits long for
  // 2^k-1 <= v < 2^(k+1)-1, so the two old codes (both odd lengths, the reorder one at least
  // 3 bits) leave 2k+1 bits with k above the old buffering code's: 2^k-1 is the smallest value
  // of that length, and larger than the old one.
  const buffering = fillingValue(ueLength(fields.reorder) + ueLength(fields.buffering) - 1);
  const patched = new Uint8Array(rbsp);
  writeUes(patched, fields.at, [0, buffering]);
  const out = toEbsp(patched);
  return out.length === ebsp.length ? out : null;
}

/** The smallest value whose ue(v) code is `bits` long (odd). */
function fillingValue(bits: number): number {
  return 2 ** ((bits - 1) / 2) - 1;
}

/** Writes the ue(v) codes of `values` into `rbsp` from bit `at` (over codes of the same total length). */
function writeUes(rbsp: Uint8Array, at: number, values: readonly number[]): void {
  let pos = at;
  const put = (bit: number): void => {
    const i = pos >> 3;
    const mask = 1 << (7 - (pos & 7));
    rbsp[i] = bit ? rbsp[i]! | mask : rbsp[i]! & ~mask;
    pos++;
  };
  for (const v of values) {
    const k = (ueLength(v) - 1) / 2;
    for (let i = 0; i < k; i++) put(0);
    const code = v + 1;
    for (let i = k; i >= 0; i--) put((code >> i) & 1);
  }
}

/** HEVC's largest decoded picture buffer (H.265 A.4.2, FFmpeg's HEVC_MAX_DPB_SIZE). */
const HEVC_MAX_DPB = 16;

/**
 * Where each sub-layer's `sps_max_dec_pic_buffering_minus1` starts in an HEVC SPS's RBSP (bit
 * offsets from the NAL header), with it and `sps_max_num_reorder_pics` (H.265 7.3.2.2). Throws
 * on a malformed SPS.
 */
export function findHevcReorderFields(
  rbsp: Uint8Array,
): { at: number; buffering: number; reorder: number }[] {
  const r = new BitReader(rbsp);
  r.bits(16); // NAL header
  r.bits(4); // sps_video_parameter_set_id
  const subLayers = r.bits(3); // sps_max_sub_layers_minus1
  r.bit(); // sps_temporal_id_nesting_flag
  // profile_tier_level(1, subLayers): the general part is 96 bits.
  r.bits(32);
  r.bits(32);
  r.bits(32);
  const present: [boolean, boolean][] = [];
  for (let i = 0; i < subLayers; i++) present.push([r.bit() === 1, r.bit() === 1]);
  if (subLayers > 0) for (let i = subLayers; i < 8; i++) r.bits(2);
  for (const [profile, level] of present) {
    if (profile) {
      r.bits(32);
      r.bits(32);
      r.bits(24);
    }
    if (level) r.bits(8);
  }
  r.ue(); // sps_seq_parameter_set_id
  if (r.ue() === 3) r.bit(); // chroma_format_idc, separate_colour_plane_flag
  r.ue(); // pic_width_in_luma_samples
  r.ue(); // pic_height_in_luma_samples
  if (r.bit()) for (let i = 0; i < 4; i++) r.ue(); // conformance window
  r.ue(); // bit_depth_luma_minus8
  r.ue(); // bit_depth_chroma_minus8
  r.ue(); // log2_max_pic_order_cnt_lsb_minus4
  const all = r.bit(); // sps_sub_layer_ordering_info_present_flag
  const out: { at: number; buffering: number; reorder: number }[] = [];
  for (let i = all ? 0 : subLayers; i <= subLayers; i++) {
    const at = r.pos;
    const buffering = r.ue();
    const reorder = r.ue();
    r.ue(); // sps_max_latency_increase_plus1
    out.push({ at, buffering, reorder });
  }
  return out;
}

/**
 * An HEVC SPS NAL unit (EBSP, from its header) with every `sps_max_num_reorder_pics` 0 and the
 * same length, or null when they are already 0 or it cannot be rewritten in place. FFmpeg's
 * HEVC decoder outputs a picture once more than the highest sub-layer's reorder count wait
 * (hevc_refs.c), so 0 hands each keyframe on as it is decoded. Here the buffering field comes
 * first: `sps_max_dec_pic_buffering_minus1` takes the larger value whose code fills the bits,
 * up to the 16 pictures HEVC allows (beyond that the SPS is left alone).
 */
export function hevcSpsWithoutReorder(ebsp: Uint8Array): Uint8Array | null {
  const rbsp = toRbsp(ebsp);
  let fields;
  try {
    fields = findHevcReorderFields(rbsp);
  } catch {
    return null;
  }
  if (fields.every((f) => f.reorder === 0)) return null;
  const patched = new Uint8Array(rbsp);
  for (const f of fields) {
    if (f.reorder === 0) continue;
    const buffering = fillingValue(ueLength(f.buffering) + ueLength(f.reorder) - 1);
    if (buffering + 1 > HEVC_MAX_DPB) return null;
    writeUes(patched, f.at, [buffering, 0]);
  }
  const out = toEbsp(patched);
  return out.length === ebsp.length ? out : null;
}
