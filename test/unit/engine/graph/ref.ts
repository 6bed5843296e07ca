/** Plain-TypeScript float64 reference implementations for forward checks (tiny row-major ndarrays). */

export interface Nd {
  data: Float64Array;
  dims: number[];
}

export function nd(data: ArrayLike<number> | ArrayLike<bigint>, dims: readonly number[]): Nd {
  return { data: Float64Array.from(data as ArrayLike<number>, (v) => Number(v)), dims: [...dims] };
}

const numel = (d: readonly number[]): number => d.reduce((a, b) => a * b, 1);

function unravel(i: number, dims: readonly number[]): number[] {
  const idx = new Array<number>(dims.length);
  for (let k = dims.length - 1; k >= 0; k--) {
    idx[k] = i % dims[k];
    i = Math.floor(i / dims[k]);
  }
  return idx;
}

function ravel(idx: readonly number[], dims: readonly number[]): number {
  let i = 0;
  for (let k = 0; k < dims.length; k++) i = i * dims[k] + idx[k];
  return i;
}

/** Value of x at a broadcast index (x right-aligned against the index). */
function atB(x: Nd, idx: readonly number[]): number {
  const off = idx.length - x.dims.length;
  return x.data[ravel(x.dims.map((d, k) => (d === 1 ? 0 : idx[k + off])), x.dims)];
}

export function bcastDims(...ds: (readonly number[])[]): number[] {
  const r = Math.max(...ds.map((d) => d.length));
  return [...Array(r).keys()].map((k) => Math.max(...ds.map((d) => d[k - (r - d.length)] ?? 1)));
}

/** Elementwise with numpy broadcasting. */
export function ew(f: (...v: number[]) => number, ...xs: Nd[]): Nd {
  const dims = bcastDims(...xs.map((x) => x.dims));
  const out = new Float64Array(numel(dims));
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, dims);
    out[i] = f(...xs.map((x) => atB(x, idx)));
  }
  return { data: out, dims };
}

export function matmul(a: Nd, b: Nd): Nd {
  const [m, k] = a.dims.slice(-2);
  const n = b.dims[b.dims.length - 1];
  const batch = bcastDims(a.dims.slice(0, -2), b.dims.slice(0, -2));
  const dims = [...batch, m, n];
  const out = new Float64Array(numel(dims));
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, dims);
    const bi = idx.slice(0, -2);
    const [r, c] = idx.slice(-2);
    let s = 0;
    for (let q = 0; q < k; q++) s += atB(a, [...bi, r, q]) * atB(b, [...bi, q, c]);
    out[i] = s;
  }
  return { data: out, dims };
}

/** Generic reduction over axes: f(values) -> number. */
export function reduce(x: Nd, axes: readonly number[], keep: boolean, f: (v: number[]) => number): Nd {
  const ax = axes.map((a) => (a < 0 ? a + x.dims.length : a));
  const keptDims = x.dims.map((d, k) => (ax.includes(k) ? 1 : d));
  const groups = new Map<number, number[]>();
  for (let i = 0; i < x.data.length; i++) {
    const idx = unravel(i, x.dims).map((v, k) => (ax.includes(k) ? 0 : v));
    const o = ravel(idx, keptDims);
    const g = groups.get(o) ?? [];
    g.push(x.data[i]);
    groups.set(o, g);
  }
  const out = new Float64Array(numel(keptDims));
  for (const [o, v] of groups) out[o] = f(v);
  return { data: out, dims: keep ? keptDims : x.dims.filter((_, k) => !ax.includes(k)) };
}

export const sumF = (v: number[]): number => v.reduce((a, b) => a + b, 0);
export const meanF = (v: number[]): number => sumF(v) / v.length;
export const maxF = (v: number[]): number => Math.max(...v);
export const lseF = (v: number[]): number => {
  const m = maxF(v);
  return m + Math.log(sumF(v.map((q) => Math.exp(q - m))));
};

export function softmax(x: Nd, axis: number, log = false): Nd {
  const lse = reduce(x, [axis], true, lseF);
  return ew((a, l) => (log ? a - l : Math.exp(a - l)), x, lse);
}

export function transpose(x: Nd, perm: readonly number[]): Nd {
  const dims = perm.map((p) => x.dims[p]);
  const out = new Float64Array(x.data.length);
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, dims);
    const src = new Array<number>(dims.length);
    perm.forEach((p, k) => (src[p] = idx[k]));
    out[i] = x.data[ravel(src, x.dims)];
  }
  return { data: out, dims };
}

/** numpy take along axis. */
export function gather(x: Nd, ind: Nd, axis: number): Nd {
  const dims = [...x.dims.slice(0, axis), ...ind.dims, ...x.dims.slice(axis + 1)];
  const out = new Float64Array(numel(dims));
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, dims);
    const pre = idx.slice(0, axis);
    const ii = idx.slice(axis, axis + ind.dims.length);
    const post = idx.slice(axis + ind.dims.length);
    out[i] = x.data[ravel([...pre, ind.data[ravel(ii, ind.dims)], ...post], x.dims)];
  }
  return { data: out, dims };
}

export function slice(x: Nd, starts: number[], ends: number[], axes: number[]): Nd {
  const lo = x.dims.map(() => 0);
  const hi = [...x.dims];
  axes.forEach((a, i) => {
    lo[a] = starts[i];
    hi[a] = ends[i];
  });
  const dims = hi.map((h, k) => h - lo[k]);
  const out = new Float64Array(numel(dims));
  for (let i = 0; i < out.length; i++) out[i] = x.data[ravel(unravel(i, dims).map((v, k) => v + lo[k]), x.dims)];
  return { data: out, dims };
}

export function concat(xs: Nd[], axis: number): Nd {
  const dims = [...xs[0].dims];
  dims[axis] = xs.reduce((a, x) => a + x.dims[axis], 0);
  const out = new Float64Array(numel(dims));
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, dims);
    let j = idx[axis];
    let p = 0;
    while (j >= xs[p].dims[axis]) j -= xs[p++].dims[axis];
    const src = [...idx];
    src[axis] = j;
    out[i] = xs[p].data[ravel(src, xs[p].dims)];
  }
  return { data: out, dims };
}

export function layerNorm(x: Nd, g: Nd, b: Nd, eps: number): Nd {
  const mu = reduce(x, [-1], true, meanF);
  const xc = ew((a, m) => a - m, x, mu);
  const v = reduce(xc, [-1], true, (q) => meanF(q.map((t) => t * t)));
  return ew((a, vv, gg, bb) => (a / Math.sqrt(vv + eps)) * gg + bb, xc, v, g, b);
}

export function erf(x: number): number {
  // Taylor series (|x| < 3 suffices for tests): 2/sqrt(pi) sum (-1)^n x^(2n+1) / (n! (2n+1)).
  let s = 0;
  let t = x;
  for (let n = 0; n < 80; n++) {
    s += t / (2 * n + 1);
    t *= (-x * x) / (n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * s;
}
