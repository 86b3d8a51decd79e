/**
 * OpenCV-compatible resize and colour conversion on 8-bit interleaved pixels, so a model trained
 * with `cv2.resize(img, (w, h))` + `cv2.cvtColor(img, BGR2GRAY)` sees the same numbers here.
 *
 * Reproduces cv::resize INTER_LINEAR for CV_8U: float source coordinates ((d + 0.5) * scale - 0.5),
 * 11-bit fixed-point weights (INTER_RESIZE_COEF_SCALE = 2048), the horizontal pass in int32 and the
 * vertical pass as OpenCV's SIMD kernel computes it ((S >> 4) * b >> 16, then (sum + 2) >> 2).
 * Also cv::resize's special case: an exact 2x downscale uses INTER_AREA (a 2x2 box average).
 * Luma is BT.601 in 14-bit fixed point, as cvtColor does on CV_8U (R 4899, G 9617, B 1868).
 * Pure functions on typed arrays; no I/O.
 */

const COEF_BITS = 11;
const COEF_SCALE = 1 << COEF_BITS;

/** An 8-bit image: interleaved channels, row-major. */
export interface Image8 {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels: number;
}

interface Taps {
  readonly ofs: Int32Array;
  readonly w0: Int16Array;
  readonly w1: Int16Array;
}

function saturateShort(v: number): number {
  // cv::saturate_cast<short>(float) rounds half to even like cvRound
  const r = roundHalfEven(v);
  return r < -32768 ? -32768 : r > 32767 ? 32767 : r;
}

function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** Source index and the two fixed-point weights for each destination coordinate along one axis. */
function linearTaps(srcLen: number, dstLen: number, clampHigh: boolean): Taps {
  const invScale = dstLen / srcLen;
  const scale = 1 / invScale;
  const ofs = new Int32Array(dstLen);
  const w0 = new Int16Array(dstLen);
  const w1 = new Int16Array(dstLen);
  for (let d = 0; d < dstLen; d++) {
    let f = Math.fround((d + 0.5) * scale - 0.5);
    let s = Math.floor(f);
    f = Math.fround(f - s);
    if (s < 0) {
      f = 0;
      s = 0;
    }
    if (clampHigh && s >= srcLen - 1) {
      f = 0;
      s = srcLen - 1;
    }
    ofs[d] = s;
    w0[d] = saturateShort(Math.fround(1 - f) * COEF_SCALE);
    w1[d] = saturateShort(f * COEF_SCALE);
  }
  return { ofs, w0, w1 };
}

/** cv::resize(src, (width, height), INTER_LINEAR) for 8-bit images with any channel count. */
export function resizeLinear(src: Image8, width: number, height: number): Image8 {
  const { width: sw, height: sh, channels: cn } = src;
  if (sw === width && sh === height) return { data: src.data.slice(), width, height, channels: cn };
  if (sw === width * 2 && sh === height * 2) return resizeArea2x(src, width, height);
  const xt = linearTaps(sw, width, true);
  const yt = linearTaps(sh, height, false);
  const rowLen = width * cn;
  const out = new Uint8Array(height * rowLen);
  // Horizontal pass per needed source row into two reusable buffers (each source row at most once
  // while rows advance monotonically, as they do for INTER_LINEAR).
  const bufs = [new Int32Array(rowLen), new Int32Array(rowLen)];
  const bufRow = [-1, -1];
  const xofs = xt.ofs;
  const xw0 = xt.w0;
  const xw1 = xt.w1;
  const S = src.data;
  const hrow = (sy: number): Int32Array => {
    const y = sy < 0 ? 0 : sy >= sh ? sh - 1 : sy;
    if (bufRow[0] === y) return bufs[0]!;
    if (bufRow[1] === y) return bufs[1]!;
    // Replace the buffer holding the older (smaller) row.
    const slot = bufRow[0]! < bufRow[1]! ? 0 : 1;
    const r = bufs[slot]!;
    bufRow[slot] = y;
    const base = y * sw * cn;
    for (let dx = 0; dx < width; dx++) {
      const sx = xofs[dx]!;
      const p = base + sx * cn;
      const o = dx * cn;
      if (sx + 1 >= sw) {
        for (let c = 0; c < cn; c++) r[o + c] = S[p + c]! * COEF_SCALE;
      } else {
        const a0 = xw0[dx]!;
        const a1 = xw1[dx]!;
        for (let c = 0; c < cn; c++) r[o + c] = S[p + c]! * a0 + S[p + cn + c]! * a1;
      }
    }
    return r;
  };
  for (let dy = 0; dy < height; dy++) {
    const sy = yt.ofs[dy]!;
    const r0 = hrow(sy);
    const r1 = hrow(sy + 1);
    const b0 = yt.w0[dy]!;
    const b1 = yt.w1[dy]!;
    const o = dy * rowLen;
    for (let x = 0; x < rowLen; x++) {
      // OpenCV's vectorised VResizeLinear for 8U: 16-bit multiply-high of (S >> 4) by the weights.
      const v = (((r0[x]! >> 4) * b0) >> 16) + (((r1[x]! >> 4) * b1) >> 16);
      const px = (v + 2) >> 2;
      out[o + x] = px < 0 ? 0 : px > 255 ? 255 : px;
    }
  }
  return { data: out, width, height, channels: cn };
}

/** The exact-2x-downscale path of cv::resize INTER_LINEAR (INTER_AREA: rounded 2x2 mean). */
function resizeArea2x(src: Image8, width: number, height: number): Image8 {
  const { width: sw, channels: cn, data: S } = src;
  const out = new Uint8Array(width * height * cn);
  for (let y = 0; y < height; y++) {
    const r0 = 2 * y * sw * cn;
    const r1 = r0 + sw * cn;
    for (let x = 0; x < width; x++) {
      const p = 2 * x * cn;
      for (let c = 0; c < cn; c++) {
        const s = S[r0 + p + c]! + S[r0 + p + cn + c]! + S[r1 + p + c]! + S[r1 + p + cn + c]!;
        out[(y * width + x) * cn + c] = (s + 2) >> 2;
      }
    }
  }
  return { data: out, width, height, channels: cn };
}

const R2Y = 4899;
const G2Y = 9617;
const B2Y = 1868;
const YUV_SHIFT = 14;
const YUV_HALF = 1 << (YUV_SHIFT - 1);

/** cv::cvtColor(BGR2GRAY / RGB2GRAY) on 8 bits. `order` names the channel order of `src`. */
export function toGray(src: Image8, order: 'rgb' | 'bgr' = 'rgb'): Image8 {
  const { width, height, channels: cn, data } = src;
  if (cn === 1) return { data: data.slice(), width, height, channels: 1 };
  const n = width * height;
  const out = new Uint8Array(n);
  const [ri, bi] = order === 'rgb' ? [0, 2] : [2, 0];
  for (let i = 0, p = 0; i < n; i++, p += cn) {
    out[i] = (data[p + ri]! * R2Y + data[p + 1]! * G2Y + data[p + bi]! * B2Y + YUV_HALF) >> YUV_SHIFT;
  }
  return { data: out, width, height, channels: 1 };
}

/** Swap the first and third channel (RGB <-> BGR), keeping any alpha. */
export function swapRB(src: Image8): Image8 {
  const out = src.data.slice();
  const cn = src.channels;
  if (cn >= 3) {
    for (let p = 0; p < out.length; p += cn) {
      const t = out[p]!;
      out[p] = out[p + 2]!;
      out[p + 2] = t;
    }
  }
  return { ...src, data: out };
}
