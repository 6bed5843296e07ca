// Text colour for a coloured cell: the distance matrix draws each cell as the theme's heat colour at an opacity
// that encodes the distance, over the page background, so the cell's colour (and whether light or dark text is
// readable on it) depends on both the value and the theme. WCAG 2.x relative luminance and contrast ratio.

/** sRGB channels, 0-255. */
export type Rgb = readonly [number, number, number];

/** Near-black and white: the two text colours a cell can get. */
export const DARK_TEXT: Rgb = [17, 17, 17];
export const LIGHT_TEXT: Rgb = [255, 255, 255];

/** Parses `#rgb`, `#rgba`, `#rrggbb`, `#rrggbbaa`, `rgb(r, g, b)` and `rgba(r, g, b, a)` (alpha is ignored); undefined otherwise. */
export function parseCssColor(text: string): Rgb | undefined {
  const s = text.trim().toLowerCase();
  const hex = /^#([0-9a-f]{3,8})$/.exec(s)?.[1];
  if (hex) {
    if (hex.length === 3 || hex.length === 4) return [0, 1, 2].map((i) => parseInt(hex[i] + hex[i], 16)) as unknown as Rgb;
    if (hex.length === 6 || hex.length === 8) return [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16)) as unknown as Rgb;
    return undefined;
  }
  const m = /^rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)\s*(?:[,/]\s*[\d.]+%?\s*)?\)$/.exec(s);
  if (!m) return undefined;
  const c = [m[1], m[2], m[3]].map((x) => Math.max(0, Math.min(255, Number(x))));
  return c.some((x) => !Number.isFinite(x)) ? undefined : (c as unknown as Rgb);
}

/** `fg` drawn with opacity `alpha` over `bg` (source-over compositing, per channel). */
export function blend(fg: Rgb, bg: Rgb, alpha: number): Rgb {
  const a = Math.max(0, Math.min(1, alpha));
  return [0, 1, 2].map((i) => a * fg[i] + (1 - a) * bg[i]) as unknown as Rgb;
}

/** WCAG 2.x relative luminance: linearized sRGB, 0.2126 R + 0.7152 G + 0.0722 B, in [0, 1]. */
export function relativeLuminance(c: Rgb): number {
  const lin = (v: number): number => {
    const x = v / 255;
    return x <= 0.04045 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
}

/** WCAG contrast ratio (L1 + 0.05) / (L2 + 0.05), lighter over darker, in [1, 21]. */
export function contrastRatio(a: Rgb, b: Rgb): number {
  const la = relativeLuminance(a);
  const lb = relativeLuminance(b);
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

/** The text colour with the higher contrast on `fill`: `dark` text on light cells, `light` text on dark ones. */
export function textOn(fill: Rgb): 'dark' | 'light' {
  return contrastRatio(DARK_TEXT, fill) >= contrastRatio(LIGHT_TEXT, fill) ? 'dark' : 'light';
}
